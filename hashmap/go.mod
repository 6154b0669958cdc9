module github.com/posixshm/posixshm/hashmap

go 1.26.0

require (
	github.com/posixshm/posixshm/alloc v0.1.0
	github.com/posixshm/posixshm/codec v0.1.0
	github.com/posixshm/posixshm/segment v0.1.0
)

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace (
	github.com/posixshm/posixshm/alloc => ../alloc
	github.com/posixshm/posixshm/codec => ../codec
	github.com/posixshm/posixshm/segment => ../segment
)
