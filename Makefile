# socklab: two commands set everything up on a machine that has only Go.
#
#   make test    vet, lint, unit and integration tests under -race, and the
#                conformance suite against every reference target
#   make bench   the benchmark matrix across concurrency models, written to
#                reports/<run>/ (QUICK=1 for a short run; ADDR=host:port
#                PROTOCOL=name to benchmark an external server instead)

GO      ?= go
GINKGO  := $(GO) tool ginkgo
BIN     := bin/socklab
PKGS     = $(shell $(GO) list ./... | grep -v '/specs')

.PHONY: all test fmt-check vet lint unit specs build bench bench-peers clean

all: test

test: fmt-check vet lint unit specs

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint:
	$(GO) tool staticcheck ./...

unit:
	$(GO) test -race -count=1 $(PKGS)

specs:
	$(GINKGO) -race -p --fail-on-empty --timeout=20m ./specs

build:
	$(GO) build -o $(BIN) ./cmd/socklab

clean:
	rm -rf bin
