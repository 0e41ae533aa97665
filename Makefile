# The two commands that matter: `make run` (the product on http://127.0.0.1:8080) and
# `make test` (everything CI checks). See README.md.

PERSES_VERSION := v0.54.0
PERSES_SUM     := h1:zfq0wkyjRPs1Em76PdTfWyzdPZKGyJDzo7QqxiBTkz0=
SPEC_VERSION   := v0.2.0-rc.0
UPSTREAM       := third_party/perses
VERSION        ?= $(shell cat VERSION)
REVISION       ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BRANCH         ?= $(shell git symbolic-ref --short HEAD 2>/dev/null || echo unknown)
BUILD_DATE     ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LISTEN         ?= 127.0.0.1:8080
GO_LDFLAGS     := -s -w \
  -X github.com/prometheus/common/version.Version=$(VERSION) \
  -X github.com/prometheus/common/version.Revision=$(REVISION) \
  -X github.com/prometheus/common/version.Branch=$(BRANCH) \
  -X github.com/prometheus/common/version.BuildDate=$(BUILD_DATE)
export CGO_ENABLED := 0

.PHONY: all build run test unit e2e deps tools upstream ui plugins ui-plugins ui-plugins-test bench figures fmt vet clean

all: build plugins

## build: bin/perses (our server) and bin/percli (upstream's CLI), from the seamed upstream copy.
build: bin/perses bin/percli bin/demo-exporter

bin/perses: upstream $(UPSTREAM)/ui/app/dist/.embedded ui-plugins FORCE
	go build -trimpath -ldflags '$(GO_LDFLAGS)' -o $@ ./cmd/perses

## bin/demo-exporter: simulated workload metrics for `make run` (cmd/demo-exporter).
bin/demo-exporter: FORCE
	go build -trimpath -o $@ ./cmd/demo-exporter

bin/percli: upstream FORCE
	go build -trimpath -ldflags '$(GO_LDFLAGS)' -o $@ github.com/perses/perses/cmd/percli

## upstream: unpack github.com/perses/perses, verify it, add the seam (no-op when up to date).
upstream:
	@hack/upstream/seam.sh github.com/perses/perses@$(PERSES_VERSION) $(PERSES_SUM) $(UPSTREAM)

## ui: the stock Perses UI, built from the module's ui/ folder.
ui: build/ui/app/dist/index.html
build/ui/app/dist/index.html: hack/ui/build.sh hack/ui/patch-ui.mjs
	hack/ui/build.sh $(PERSES_VERSION) $(SPEC_VERSION)

# The UI goes into the upstream copy gzip-compressed file by file, as upstream's
# generated embed.go expects (prometheus/common/assets serves the .gz twins).
$(UPSTREAM)/ui/app/dist/.embedded: build/ui/app/dist/index.html | upstream
	rm -rf $(UPSTREAM)/ui/app/dist && mkdir -p $(UPSTREAM)/ui/app
	cp -r build/ui/app/dist $(UPSTREAM)/ui/app/dist
	find $(UPSTREAM)/ui/app/dist -type f -exec gzip -9 -n '{}' +
	touch $@

## plugins: the plugin archives (upstream npm plugins and ours, with our CUE schemas) in build/plugins.
plugins: ui-plugins
	plugins/pack.sh build/plugins

## ui-plugins: our TypeScript plugins (ui-plugins/), built for plugins/pack.sh. They take
## @perses-dev/spec from the stock UI's build, so the UI comes first.
UI_PLUGINS := ui-plugins/openshift-ai
ui-plugins: build/ui/app/dist/index.html
	hack/ui/plugins.sh build $(UI_PLUGINS)

## ui-plugins-test: their type-check and vitest unit tests.
ui-plugins-test: build/ui/app/dist/index.html
	hack/ui/plugins.sh test $(UI_PLUGINS)

## run: the product with the embedded default configuration (file database, development login).
run: build plugins bin/demo-exporter
	hack/run.sh $(LISTEN)

## deps: what the tests need beyond Go and Node (Debian packages, the browser driver).
deps:
	hack/deps.sh

## tools: kube-apiserver, kube-controller-manager and etcd for the tests, built from the
## Go module proxy (~15 min cold on 2 cores; a no-op when up to date), and prom-label-proxy
## (a tool of go.mod, the peer the tenancy tests and benchmark compare with). KUBE_TOOLS_DIR
## points the tests elsewhere.
tools: upstream
	hack/kube/build.sh build/tools
	go build -o build/tools/prom-label-proxy github.com/prometheus-community/prom-label-proxy

## test: everything CI runs.
test: deps tools build plugins vet unit ui-plugins-test e2e

vet: upstream $(UPSTREAM)/ui/app/dist/.embedded
	@out=$$(gofmt -l cmd extension e2e hack internal patches 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	go vet ./...
	go vet -tags e2e ./e2e/...

unit: upstream $(UPSTREAM)/ui/app/dist/.embedded
	go test -count=1 ./...

# The e2e suite runs twice: on upstream's file database, then on PostgreSQL. The
# TestPostgres* tests (replicas, outage) make their own PostgreSQL servers and
# databases: they run once, in the PostgreSQL pass.
e2e: build plugins
	go test -count=1 -tags e2e -timeout 20m -skip '^TestPostgres' ./e2e/...
	E2E_STORE=postgres go test -count=1 -tags e2e -timeout 20m ./e2e/...

## bench: long measurements against peers (not part of make test).
bench: build plugins
	hack/figures.sh
	go run ./hack/benchstore
	go test -count=1 -tags "e2e bench" -run TestAuthThroughput -v ./e2e/
	go test -count=1 -tags "e2e bench" -run TestTenancyProxyThroughput -v ./e2e/

clean:
	rm -rf bin build $(UPSTREAM) data

FORCE:
