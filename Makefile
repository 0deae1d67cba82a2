# Flavor Monk — see README.md. Every target runs from the repository root.
SHELL := /bin/bash
export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/flavormonk/flavormonk/app.Version=$(VERSION)
DATA    ?= $(CURDIR)/.data
STACK   ?= dev

.PHONY: run build test test-short vet fmt-check services bench image plan preview up rehearse fuzz clean help

help:
	@echo "make run       serve the app on http://localhost:8080 (SQLite, bundled recipes)"
	@echo "make test      every test, starting Postgres and Chromium as needed"
	@echo "make bench     benchmarks and the HTTP load test, with ratios to baselines"
	@echo "make image     build and push the container image with ko (KO_DOCKER_REPO)"
	@echo "make fuzz      run each fuzz target for FUZZTIME (default 30s)"

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

test: fmt-check vet services
	cd app && FLAVORMONK_TEST_POSTGRES_URL=$$(../scripts/postgres.sh url) \
		FLAVORMONK_TEST_REDIS_URL=$$(../scripts/redis.sh url) \
		FLAVORMONK_TEST_CHROMA_URL=$$(../scripts/chroma.sh url) \
		FLAVORMONK_TEST_REQUIRE_SERVICES=1 \
		go test -count=1 -timeout 30m ./...
	cd infra && FLAVORMONK_TEST_POSTGRES_URL=$$(../scripts/postgres.sh url) \
		FLAVORMONK_TEST_REQUIRE_SERVICES=1 \
		go test -count=1 -timeout 20m ./...

test-short:
	cd app && go test -short ./...

FUZZTIME ?= 30s
fuzz:
	cd app && for t in $$(grep -rl '^func Fuzz' --include='*_test.go' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$t/*_test.go | cut -d' ' -f2); do \
			echo "== $$t $$f"; go test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$t || exit 1; \
		done; done

bench:
	scripts/bench.sh $(BENCHFLAGS)

# image: KO_DOCKER_REPO=registry/repo [VERSION=…] [PLATFORMS=linux/amd64,linux/arm64]
image:
	KO_DOCKER_REPO="$(KO_DOCKER_REPO)" VERSION="$(VERSION)" PLATFORMS="$(PLATFORMS)" scripts/image.sh

# plan: offline, under mocks, no credentials: make plan STACK=dev [PHASE=upgrade] [CLOUD=digitalocean] [TO=upgrade]
plan:
	cd infra && go run ./cmd/plan -dir .. -stack $(STACK) $(if $(PHASE),-phase $(PHASE)) $(if $(CLOUD),-cloud $(CLOUD)) $(if $(TO),-to $(TO))

# preview/up: the real Pulumi CLI, for people who have it and the cloud tokens.
preview up:
	@command -v pulumi >/dev/null || { echo "make $@ needs the Pulumi CLI (https://www.pulumi.com/docs/install/); make plan works offline" >&2; exit 1; }
	pulumi $@ --stack $(STACK)

# rehearse: the app with a phase's backends on real local services, a load with
# Redis and ChromaDB stopped midway, and a report: make rehearse PHASE=upgrade
rehearse:
	scripts/rehearse.sh $(or $(PHASE),upgrade)

clean:
	rm -rf .bin .data
