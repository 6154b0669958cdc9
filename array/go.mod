module github.com/posixshm/posixshm/array

go 1.26.0

require (
	github.com/posixshm/posixshm/alloc v0.0.0-00010101000000-000000000000
	github.com/posixshm/posixshm/segment v0.0.0-00010101000000-000000000000
	gonum.org/v1/gonum v0.17.0
)

require golang.org/x/sys v0.50.0 // indirect

replace (
	github.com/posixshm/posixshm/alloc => ../alloc
	github.com/posixshm/posixshm/segment => ../segment
)
