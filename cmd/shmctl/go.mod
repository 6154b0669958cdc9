module github.com/posixshm/posixshm/cmd/shmctl

go 1.26.0

require (
	github.com/posixshm/posixshm/alloc v0.1.0
	github.com/posixshm/posixshm/array v0.1.0
	github.com/posixshm/posixshm/bitset v0.1.0
	github.com/posixshm/posixshm/codec v0.1.0
	github.com/posixshm/posixshm/hashmap v0.1.0
	github.com/posixshm/posixshm/queue v0.1.0
	github.com/posixshm/posixshm/segment v0.1.0
	github.com/posixshm/posixshm/stack v0.1.0
	github.com/spf13/cobra v1.10.2
)

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
