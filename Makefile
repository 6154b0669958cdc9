# posixshm: one target per task, run over every module of the workspace.
# Modules are found by their go.mod, as opentelemetry-go's Makefile does.

GO        ?= go
MODULES   := $(sort $(patsubst ./%/go.mod,%,$(shell find . -name go.mod -not -path './.git/*' -not -path '*/testdata/*')))
# Structure and foundation modules: unit tests with the race detector.
UNIT      := $(filter-out conformance,$(MODULES))
FUZZTIME  ?= 10s
BENCHTIME ?= 1s
BENCHCOUNT ?= 1
SOAKTIME   ?= 3m
CORRUPTTIME ?= 10m
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

# test/<module> is a pattern rule; make skips pattern rules for .PHONY targets,
# so they are not listed here.
.PHONY: all test test-alone test-unit test-norace test-conformance bench demo fuzz lint soak corrupt clean \
	release release-check release-bump release-verify apicheck

all: lint test

test: test-alone test-unit test-norace test-conformance release-check

# Each module must be gofmt-clean and build and vet on its own, through its
# relative replace lines, without the workspace (as opentelemetry-go's
# modules do). cmd/shmctl has no replace lines (go install ...@version
# refuses a module that has them): release-check builds it alone, against
# a module proxy made from this tree.
ALONE     := $(filter-out cmd/shmctl,$(MODULES))
test-alone:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(ALONE); do (cd $$m && GOWORK=off $(GO) vet ./...) || { echo "module $$m does not build alone"; exit 1; }; done

test-unit: $(addprefix test/,$(UNIT))

test/%:
	cd $* && $(GO) test -race -count=1 ./...

# Race builds keep the fault guard on every read (segment/race_on.go): the
# modules whose reads can run without it are tested without -race too.
NORACE := segment hashmap
test-norace:
	@for m in $(NORACE); do (cd $$m && $(GO) test -count=1 ./...) || exit 1; done

# Cross-process suites: real child processes, some SIGKILLed.
test-conformance:
	cd conformance && $(GO) test -count=1 -timeout 20m ./...

# Releases (docs/RELEASING.md). versions.yaml names every module's version;
# tools/release keeps the go.mod files in step with it and tags releases.
RELEASE := cd tools && $(GO) run ./release -C ..

# What a user outside the repository does: go get one module, go install
# shmctl, run each module's tests, all through a module proxy made from
# this tree at versions.yaml's versions.
release-check:
	$(RELEASE) check

# Check every go.mod against versions.yaml (offline, quick).
release-verify:
	$(RELEASE) verify

# Write versions.yaml's versions into the requires of every go.mod.
release-bump:
	$(RELEASE) bump

# Each module's exported API against its last release tag.
apicheck:
	$(RELEASE) apicheck

# Create the per-module tags versions.yaml names, or refuse (and create
# none) when the tree is dirty, a go.mod disagrees, a module changed since
# its tag without a bump, or an API break lacks its version step.
release:
	$(RELEASE) tag

bench:
	@for m in $(MODULES); do \
		echo "== $$m"; \
		(cd $$m && $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./...) || exit 1; \
	done

# Chaos soak: every structure in one segment, workers SIGKILLed and
# restarted, global invariants checked at the end (docs/RELIABILITY.md).
soak:
	cd conformance && $(GO) test -count=1 -v -timeout 0 -run '^TestSoak$$' . -args -soak.duration=$(SOAKTIME)

# Corruption campaign: random byte flips in live segments, then every
# operation of every structure; counts outcomes.
corrupt:
	cd conformance && $(GO) test -count=1 -v -timeout 0 -run '^TestCorruptionCampaign$$' . -args -corrupt.duration=$(CORRUPTTIME)

demo:
	cd examples && $(GO) run ./demo && $(GO) run ./demo -anonymous

# A failure that wrote no failing input and says "context deadline exceeded"
# is Go's fuzz coordinator racing its own -fuzztime deadline (go.dev/issue/75804,
# fixed in Go 1.27), not a finding: it is reported and skipped.
fuzz:
	@for m in $(MODULES); do \
		for pkg in $$(cd $$m && $(GO) list ./...); do \
			dir=$$(cd $$m && $(GO) list -f '{{.Dir}}' $$pkg); \
			for f in $$(cd $$dir && $(GO) test -list '^Fuzz' . | grep '^Fuzz'); do \
				echo "== $$pkg $$f ($(FUZZTIME))"; \
				before=$$(ls $$dir/testdata/fuzz/$$f 2>/dev/null | wc -l); \
				out=$$(mktemp); \
				if ! (cd $$dir && $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) .) 2>&1 | tee $$out | grep -v '^fuzz: elapsed'; then :; fi; \
				if ! grep -q '^ok' $$out; then \
					after=$$(ls $$dir/testdata/fuzz/$$f 2>/dev/null | wc -l); \
					if [ "$$after" = "$$before" ] && grep -q 'context deadline exceeded' $$out; then \
						echo "   (no failing input written: Go's fuzztime deadline race, go.dev/issue/75804; ignored)"; \
					else rm -f $$out; exit 1; fi; \
				fi; \
				rm -f $$out; \
			done; \
		done; \
	done

lint:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done
	@for m in $(MODULES); do (cd $$m && $(GO) run $(STATICCHECK) ./...) || exit 1; done

clean:
	$(GO) clean -testcache
	rm -f /dev/shm/psm-*
