# Tandem build and test entry points. `make test` is the one command that
# runs the whole default test suite (README.md; .ci/run calls it).

GO ?= go
BIN ?= bin/tandem
RACE_PKGS = ./internal/wire/... ./internal/group/... ./internal/fetcher/... ./internal/link/... ./internal/mirror/... ./internal/record/... ./internal/log/... ./internal/broker/... ./internal/server/... ./internal/partition/... ./internal/metadata/... ./internal/config/... ./internal/wanproxy/...

.PHONY: build test test-race vet fuzz bench-compare bench-wan clean

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/tandem

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

# The default suite: vet, every package's tests (unit, transcript, harness,
# client interop, crash), then the core packages again under the race
# detector, then a short run of the request-decoding fuzzer (issue #9: the
# decoder faces every unauthenticated client). Long soak/fuzz runs are
# separate targets.
CI_FUZZTIME ?= 20s
test: vet
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -race -timeout 15m $(RACE_PKGS)
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(CI_FUZZTIME) ./internal/wire

# Fuzz each fuzzer for FUZZTIME (default 30s each).
FUZZTIME ?= 30s
fuzz:
	@for spec in $$($(GO) test -list 'Fuzz.*' ./... 2>/dev/null | awk '/^ok/ {pkg=$$2} /^Fuzz/ {print pkg":"$$1}'); do \
		pkg=$${spec%%:*}; fn=$${spec##*:}; \
		echo "== $$pkg $$fn"; $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

bench-compare: build
	TANDEM=$(BIN) scripts/bench-compare.sh

# Mirroring vs the pipeline across a simulated WAN (docs/benchmarks.md).
bench-wan: build
	TANDEM=$(BIN) scripts/bench-wan.sh

clean:
	rm -rf bin
