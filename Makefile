# socklab: two commands set everything up on a machine that has only Go.
#
#   make test    vet, lint, unit and integration tests under -race, and the
#                conformance suite against every reference target
#   make bench   the benchmark matrix across concurrency models, written to
#                reports/<run>/ (QUICK=1 for a short run; ADDR=host:port
#                PROTOCOL=name to benchmark an external server instead;
#                THRESHOLDS='p99<2ms errors<0.1%' to gate on every scenario;
#                FIND='p99<1ms' to rank the models by the highest rate
#                that meets it instead)

GO      ?= go
GINKGO  := $(GO) tool ginkgo
BIN     := bin/socklab
PKGS     = $(shell $(GO) list ./... | grep -v '/specs$$')

.PHONY: all test fmt-check vet lint unit specs build bench bench-peers bench-models clean

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

# Four processes on any machine: the suite mostly waits (timeouts, stalls,
# a server's pauses), so on two cores two processes left them idle half
# the time.
specs:
	$(GINKGO) -race --procs=4 --fail-on-empty --timeout=20m ./specs

# A static binary (no cgo): socklab check runs on a machine without Go.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/socklab

# The benchmark matrix: every reference model as its own process, pinned to
# CPU 0, the load on CPU 1. QUICK=1 for a short run; ADDR=host:port
# PROTOCOL=name (NETWORK=unix etc.) benchmarks an external server instead;
# THRESHOLDS='p99<2ms errors<0.1%' checks each scenario (exit 3 if crossed).
bench: build
	$(BIN) bench $(if $(QUICK),--quick) $(if $(ADDR),--addr $(ADDR)) $(if $(PROTOCOL),--protocol $(PROTOCOL)) $(if $(NETWORK),--network $(NETWORK)) $(if $(FRAMING),--framing $(FRAMING)) $(if $(MODELS),--models $(MODELS)) $(foreach t,$(THRESHOLDS),--threshold '$(t)') $(foreach f,$(FIND),--find '$(f)') --out reports

# wrk and socklab load against the same HTTP servers (nginx, one worker, and
# socklab's own http target); installs wrk and nginx from Debian if missing.
bench-peers: build
	scripts/bench-peers.sh $(BIN)

# Go benchmarks of the models (64-byte echo, closed loop, 1/16/256 conns),
# each model a process pinned to CPU 0, the client pinned to CPU 1.
bench-models:
	cd targets && taskset -c 1 $(GO) test -run '^$$' -bench Models -benchtime 2s .

clean:
	rm -rf bin
