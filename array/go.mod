module github.com/posixshm/posixshm/array

go 1.26.0

require (
	github.com/posixshm/posixshm/alloc v0.1.0
	github.com/posixshm/posixshm/segment v0.1.0
)

require golang.org/x/sys v0.50.0 // indirect

replace (
	github.com/posixshm/posixshm/alloc => ../alloc
	github.com/posixshm/posixshm/segment => ../segment
)
