# Flavor Monk — see README.md. Every target runs from the repository root.
SHELL := /bin/bash
export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/flavormonk/flavormonk/app.Version=$(VERSION)
DATA    ?= $(CURDIR)/.data
STACK   ?= dev

.PHONY: run build test test-short vet fmt-check help-check services bench image plan preview up rehearse fuzz fuzz-short clean help

# help lists every target; help-check (part of make test) fails when one is missing.
help:
	@echo "make run         serve the app on http://localhost:8080 (SQLite, bundled recipes)"
	@echo "make build       build the flavormonk binary into .bin/"
	@echo "make test        every test, starting Postgres, Redis, ChromaDB and Chromium as needed, then fuzz-short"
	@echo "make test-short  the quick tests only (go test -short), no services"
	@echo "make vet         go vet over app and infra"
	@echo "make fmt-check   fail when a file needs gofmt"
	@echo "make help-check  fail when a Makefile target is missing from make help"
	@echo "make services    install (idempotently) and start Postgres, Redis and ChromaDB for the tests"
	@echo "make bench       benchmarks and the HTTP load test, with ratios to baselines"
	@echo "make image       build and push the container image with ko (KO_DOCKER_REPO)"
	@echo "make plan        offline plan under mocks: STACK=dev [PHASE=upgrade] [CLOUD=digitalocean] [TO=upgrade]"
	@echo "make preview     pulumi preview for STACK (needs the Pulumi CLI and cloud tokens)"
	@echo "make up          pulumi up for STACK (needs the Pulumi CLI and cloud tokens)"
	@echo "make rehearse    the app on a phase's real local backends, with a fault run: PHASE=upgrade; PHASE=rollout deploys under load behind HAProxy and Caddy"
	@echo "make fuzz        run each fuzz target for FUZZTIME (default 30s) [MODULES=\"app infra\"]"
	@echo "make fuzz-short  each app fuzz target for FUZZTIME_SHORT (default 2s); part of make test"
	@echo "make clean       remove .bin and .data"
	@echo "make help        this list"

run:
	@mkdir -p $(DATA)
	cd app && FLAVORMONK_SQLITE_PATH=$${FLAVORMONK_SQLITE_PATH:-$(DATA)/flavormonk.db} \
		go run -ldflags "$(LDFLAGS)" ./cmd/flavormonk serve

build:
	cd app && go build -ldflags "$(LDFLAGS)" -o ../.bin/flavormonk ./cmd/flavormonk

vet:
	cd app && go vet ./...
	cd infra && go vet ./...

fmt-check:
	@out=$$(gofmt -l app infra); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# services installs (idempotently) and starts what the tests talk to.
services:
	scripts/deps.sh
	scripts/postgres.sh start >/dev/null
	scripts/redis.sh start >/dev/null
	scripts/chroma.sh start >/dev/null

help-check:
	@targets=$$(sed -n 's/^\.PHONY: *//p' $(firstword $(MAKEFILE_LIST)); grep -E '^[a-z][a-z -]*:([^=]|$$)' $(firstword $(MAKEFILE_LIST)) | cut -d: -f1); \
	missing=$$(for t in $$targets; do grep -q "^	@echo \"make $$t " $(firstword $(MAKEFILE_LIST)) || echo $$t; done | sort -u); \
	if [ -n "$$missing" ]; then echo "make help does not list:" $$missing >&2; exit 1; fi

test: fmt-check help-check vet services
	cd app && FLAVORMONK_TEST_POSTGRES_URL=$$(../scripts/postgres.sh url) \
		FLAVORMONK_TEST_REDIS_URL=$$(../scripts/redis.sh url) \
		FLAVORMONK_TEST_CHROMA_URL=$$(../scripts/chroma.sh url) \
		FLAVORMONK_TEST_REQUIRE_SERVICES=1 \
		go test -count=1 -timeout 30m ./...
	cd infra && FLAVORMONK_TEST_POSTGRES_URL=$$(../scripts/postgres.sh url) \
		FLAVORMONK_TEST_REQUIRE_SERVICES=1 \
		go test -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz-short

test-short:
	cd app && go test -short ./...

FUZZTIME ?= 30s
MODULES ?= app
fuzz:
	scripts/fuzz.sh $(FUZZTIME) $(MODULES)

# fuzz-short runs in make test, so a red fuzz target or seed shows there.
FUZZTIME_SHORT ?= 2s
fuzz-short:
	scripts/fuzz.sh $(FUZZTIME_SHORT) app

bench:
	scripts/bench.sh $(BENCHFLAGS)

# image: KO_DOCKER_REPO=registry/repo [VERSION=…] [PLATFORMS=linux/amd64,linux/arm64]
image:
	KO_DOCKER_REPO="$(KO_DOCKER_REPO)" VERSION="$(VERSION)" PLATFORMS="$(PLATFORMS)" scripts/image.sh

# plan: offline, under mocks, no credentials: make plan STACK=dev [PHASE=upgrade] [CLOUD=digitalocean] [TO=upgrade] [SET="serverImage=debian-13"]
plan:
	cd infra && go run ./cmd/plan -dir .. -stack $(STACK) $(if $(PHASE),-phase $(PHASE)) $(if $(CLOUD),-cloud $(CLOUD)) $(if $(TO),-to $(TO)) $(foreach s,$(SET),-set $(s))

# preview/up: the real Pulumi CLI, for people who have it and the cloud tokens.
preview up:
	@command -v pulumi >/dev/null || { echo "make $@ needs the Pulumi CLI (https://www.pulumi.com/docs/install/); make plan works offline" >&2; exit 1; }
	pulumi $@ --stack $(STACK)

# rehearse: the app with a phase's backends on real local services, a load with
# Redis and ChromaDB stopped midway, and a report: make rehearse PHASE=upgrade.
# PHASE=rollout: deploy.sh rolls a new build out under load behind real
# HAProxy and Caddy, and reports requests, errors and the longest gap.
rehearse:
	scripts/rehearse.sh $(or $(PHASE),upgrade)

clean:
	rm -rf .bin .data
