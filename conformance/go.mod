module github.com/posixshm/posixshm/conformance

go 1.26.0

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/google/go-cmp v0.7.0
	github.com/posixshm/posixshm/alloc v0.1.0
	github.com/posixshm/posixshm/array v0.1.0
	github.com/posixshm/posixshm/bitset v0.1.0
	github.com/posixshm/posixshm/hashmap v0.1.0
	github.com/posixshm/posixshm/queue v0.1.0
	github.com/posixshm/posixshm/segment v0.1.0
	github.com/posixshm/posixshm/stack v0.1.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/posixshm/posixshm/codec v0.1.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
)

replace (
	github.com/posixshm/posixshm/alloc => ../alloc
	github.com/posixshm/posixshm/array => ../array
	github.com/posixshm/posixshm/bitset => ../bitset
	github.com/posixshm/posixshm/codec => ../codec
	github.com/posixshm/posixshm/hashmap => ../hashmap
	github.com/posixshm/posixshm/queue => ../queue
	github.com/posixshm/posixshm/segment => ../segment
	github.com/posixshm/posixshm/stack => ../stack
)
