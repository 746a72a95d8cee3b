# Build and test entry points. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

GIT_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0)
GIT_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Outside a git checkout (an unpacked tarball) the state is unknown, not clean.
GIT_TREE_STATE ?= $(shell status=$$(git status --porcelain 2>/dev/null) || { echo unknown; exit; }; test -z "$$status" && echo clean || echo dirty)

node_modules: package.json package-lock.json
	npm ci
	@touch node_modules

.PHONY: build
build: node_modules ## Compile TypeScript to dist/
	npm run build
	@printf '{"gitVersion":"%s","gitCommit":"%s","gitTreeState":"%s","buildDate":"%s"}\n' \
	  "$(GIT_VERSION)" "$(GIT_COMMIT)" "$(GIT_TREE_STATE)" "$$(date -u +%Y-%m-%dT%H:%M:%SZ)" > build-info.json

# A symlink to the compiled entry point (its `#!/usr/bin/env node` line runs it), not a /bin/sh
# wrapper: dash drops environment variables such as TIMESTAMP-SIGNER whose names are not shell
# identifiers, and docs/configuration.md documents those.
bin/%: build
	@mkdir -p bin
	@chmod +x dist/src/cli/$*.js
	@ln -sfn ../dist/src/cli/$*.js $@
	@echo "linked $@ -> dist/src/cli/$*.js"

.PHONY: timestamp-server
timestamp-server: bin/timestamp-server ## Build ./bin/timestamp-server

.PHONY: timestamp-cli
timestamp-cli: bin/timestamp-cli ## Build ./bin/timestamp-cli (client, verifier, chain maker)

.PHONY: run
run: timestamp-server ## Install, build and serve on 127.0.0.1:3000 with the in-memory signer
	./bin/timestamp-server serve --port 3000

.PHONY: test-deps
test-deps: ## Install the Debian tools the tests use (openssl, ...) where missing
	bash scripts/install-test-deps.sh

# npm drops the optional pkcs11js when its native build fails (no C++ toolchain at `npm ci`, as
# after a first `make run`) and the node_modules target does not run again; test-deps has now
# installed the toolchain, so build the binding where it is missing.
PKCS11JS_BINDING := node_modules/pkcs11js/build/Release/pkcs11.node
.PHONY: pkcs11js
pkcs11js: test-deps node_modules ## Build the PKCS#11 binding (pkcs11js) where it is missing
	@if [ ! -e $(PKCS11JS_BINDING) ]; then \
	  if [ -d node_modules/pkcs11js ]; then build='npm rebuild pkcs11js'; \
	  else build='npm install --no-save --no-audit --no-fund'; fi; \
	  echo "the pkcs11js binding is missing: $$build"; $$build || exit; \
	  [ -e $(PKCS11JS_BINDING) ] || echo 'pkcs11js is still not built: the PKCS#11 tests will fail' >&2; \
	fi

.PHONY: test
test: test-deps pkcs11js timestamp-server timestamp-cli ## Install everything; typecheck, lint, run the PR tier (test/ but test/slow) and the coverage check
	npm run typecheck:all
	npm run lint
	bash scripts/run-tests.sh
	$(MAKE) --no-print-directory coverage

.PHONY: test-slow
test-slow: test-deps pkcs11js timestamp-server timestamp-cli ## The slow tier (test/slow: Docker build, long fuzz, bench and load smoke, memory)
	bash scripts/run-tests.sh --config vitest.slow.config.ts

.PHONY: coverage
coverage: node_modules ## Unit tier with coverage of src/asn1 and src/tsp (report in coverage/; fails below the thresholds)
	npx vitest run --coverage --reporter=dot test/unit

.PHONY: lint
lint: node_modules ## ESLint and Prettier
	npm run lint

.PHONY: bench
bench: node_modules ## Benchmarks (see docs/performance.md)
	npm run bench

.PHONY: up
# The Compose v2 plugin (docker compose) where Docker has it, else the v1 binary (docker-compose).
up: ## docker compose: build the image, serve on :3000 (metrics :2112) and run the load test once healthy
	@if docker compose version >/dev/null 2>&1; then compose='docker compose'; \
	elif command -v docker-compose >/dev/null 2>&1; then compose=docker-compose; \
	else echo 'make up needs Docker Compose: neither `docker compose` (the v2 plugin) nor `docker-compose` (v1) is installed' >&2; exit 1; fi; \
	echo "$$compose up --build"; \
	GIT_VERSION=$(GIT_VERSION) GIT_COMMIT=$(GIT_COMMIT) GIT_TREE_STATE=$(GIT_TREE_STATE) \
	  BUILD_DATE=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
	  $$compose up --build

.PHONY: loadtest
loadtest: node_modules ## Load test a running server: make loadtest URL=http://127.0.0.1:3000
	npm run loadtest -- $(or $(URL),http://127.0.0.1:3000)

.PHONY: clean
clean: ## Remove build outputs
	rm -rf dist bin/timestamp-server bin/timestamp-cli build-info.json coverage

.PHONY: help
help: ## List targets
	@grep -E '^[a-zA-Z0-9_%/-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'
