# The two commands that matter: `make run` (the dev stack) and `make test`.
GO      ?= go
BIN     := bin/entravault
DATA    ?= .data
# Integration tests start real Temporal servers and simulators; give them room.
TESTFLAGS ?= -timeout 45m

.PHONY: run build test tools bench lint vet fmt-check clean

run: build
	./$(BIN) dev --data $(DATA)

build:
	$(GO) build -o $(BIN) ./cmd/entravault

# tools installs what the tests need beyond Go (Azurite, the Azure Storage
# emulator, from npm; PostgreSQL from Debian for internal/prodtest), so a
# fresh machine needs nothing by hand.
tools:
	@if [ -x scripts/azurite.sh ]; then scripts/azurite.sh install; fi
	@if [ -x scripts/postgres.sh ]; then scripts/postgres.sh install; fi
	@if [ -x scripts/chromium.sh ]; then scripts/chromium.sh install; fi

test: tools
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...

bench: tools
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh; else $(GO) test -run '^$$' -bench . -benchmem ./...; fi

lint: vet fmt-check

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin
