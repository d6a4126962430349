# Costroom — the two commands a newcomer needs:
#   make run    set up, build, seed the demo organisation into SQLite and serve it
#   make test   set up and run every test layer (fmt, clippy, unit, DB contract on SQLite and
#               PostgreSQL, HTTP, end-to-end in Chromium)
# Everything else here is a step of those two. Builds use plain cargo + wasm-bindgen, so
# cargo-leptos (36 minutes to compile on 2 cores) is optional: `cargo leptos watch` also works.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# setup.sh records which toolchain has the wasm32 std (rustup's, or Debian's linked as `web`).
TOOLCHAIN := $(shell cat target/.costroom-toolchain 2>/dev/null)
ifneq ($(TOOLCHAIN),)
export RUSTUP_TOOLCHAIN := $(TOOLCHAIN)
endif
# leptos bakes the output name into both builds: /pkg/costroom.{js,wasm,css}
export LEPTOS_OUTPUT_NAME := costroom
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
FRONT_TARGET_DIR := $(TARGET_DIR)/front
SITE := target/site
BIN := $(TARGET_DIR)/debug/costroom
WASM_BINDGEN := $(shell command -v wasm-bindgen 2>/dev/null || echo $(HOME)/.cargo/bin/wasm-bindgen)
DATABASE_URL ?= sqlite:costroom.db
ADDR ?= 127.0.0.1:3000
# end-to-end: a fixed "today" and seed, so the figures the browser sees are reproducible
E2E_TODAY := 2026-11-20
E2E_DB := target/e2e/e2e.db

.PHONY: help run test setup build build-front build-server site serve demo \
        check fmt-check clippy unit-tests e2e e2e-run release build-front-release bench bench-paint fuzz

help:
	@sed -n '1,7p' Makefile

# `make run` serves the optimised bundle (release profile + wasm-opt): the debug one is ~40 MB.
run:
	./setup.sh
	$(MAKE) --no-print-directory build-front-release build-server
	$(MAKE) --no-print-directory demo serve

test:
	./setup.sh --postgres
	$(MAKE) --no-print-directory check

setup:
	./setup.sh

# ---------------------------------------------------------------- build
build: build-front build-server

build-front:
	@echo "== frontend -> wasm32 (hydrate)"
	cargo build -p frontend --lib --target wasm32-unknown-unknown --target-dir $(FRONT_TARGET_DIR)
	@echo "== wasm-bindgen"
	rm -rf $(SITE)/pkg && mkdir -p $(SITE)/pkg
	$(WASM_BINDGEN) --target web --no-typescript --out-name costroom --out-dir $(SITE)/pkg \
	  $(FRONT_TARGET_DIR)/wasm32-unknown-unknown/debug/frontend.wasm
	# <HydrationScripts/> asks for /pkg/costroom.wasm when LEPTOS_OUTPUT_NAME is set at compile time
	mv $(SITE)/pkg/costroom_bg.wasm $(SITE)/pkg/costroom.wasm
	$(MAKE) --no-print-directory site BROTLI_Q=5

# The optimised bundle: release profile, then wasm-opt (from npm's binaryen >= 116).
build-front-release:
	@echo "== frontend -> wasm32 (hydrate, release + wasm-opt)"
	cargo build -p frontend --lib --target wasm32-unknown-unknown --target-dir $(FRONT_TARGET_DIR) --release
	rm -rf $(SITE)/pkg && mkdir -p $(SITE)/pkg
	$(WASM_BINDGEN) --target web --no-typescript --out-name costroom --out-dir $(SITE)/pkg \
	  $(FRONT_TARGET_DIR)/wasm32-unknown-unknown/release/frontend.wasm
	mv $(SITE)/pkg/costroom_bg.wasm $(SITE)/pkg/costroom.wasm
	target/tools/bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
	  $(SITE)/pkg/costroom.wasm -o $(SITE)/pkg/costroom.wasm
	$(MAKE) --no-print-directory site BROTLI_Q=11

# Static files, then the bundle fingerprinted (pkg/hash.txt names costroom.<hash>.{js,wasm},
# which the server caches for a year) and everything precompressed (.gz; .br with brotli).
BROTLI_Q ?= 11
site:
	mkdir -p $(SITE)/pkg
	cp style/main.css $(SITE)/pkg/costroom.css
	cp -r public/. $(SITE)/
	cd $(SITE)/pkg && if [[ -f costroom.wasm ]]; then \
	  js=$$(sha256sum costroom.js | cut -c1-20); wasm=$$(sha256sum costroom.wasm | cut -c1-20); \
	  rm -f costroom.*.js costroom.*.wasm; \
	  mv costroom.js costroom.$$js.js; mv costroom.wasm costroom.$$wasm.wasm; \
	  printf 'js: %s\nwasm: %s\n' $$js $$wasm > hash.txt; fi
	for f in $(SITE)/pkg/*.js $(SITE)/pkg/*.wasm $(SITE)/pkg/*.css $(SITE)/vendor/*.js; do \
	  [[ -f "$$f" ]] || continue; gzip -9 -k -f "$$f"; \
	  if command -v brotli >/dev/null; then brotli -f -q $(BROTLI_Q) "$$f"; fi; done

build-server:
	@echo "== server (ssr)"
	cargo build -p server --bin costroom

# Release: optimised wasm and server.
release: build-front-release
	cargo build -p server --bin costroom --profile server-release

# ---------------------------------------------------------------- run
demo:
	$(BIN) --database-url "$(DATABASE_URL)" demo --reset

serve:
	@echo "Open http://$(ADDR)/ and sign in with one of the demo sign-ins above. Ctrl-C stops."
	$(BIN) --database-url "$(DATABASE_URL)" serve --addr $(ADDR) --site-root $(SITE)

# ---------------------------------------------------------------- tests
# PostgreSQL tests run when COSTROOM_TEST_PG_URL is set; `setup.sh --postgres` provides one
# (target/.costroom-pg-url) and COSTROOM_REQUIRE_PG makes a missing one an error.
PG_URL := $(or $(COSTROOM_TEST_PG_URL),$(shell cat target/.costroom-pg-url 2>/dev/null))

# `cargo test` also builds target/debug/costroom (the integration tests run it), so the browser
# tests use that binary; `cargo build` here would recompile app and server for nothing.
check: fmt-check clippy unit-tests build-front e2e
	@echo "== all test layers passed"

fmt-check:
	@echo "== cargo fmt --check"
	cargo fmt --all -- --check

clippy:
	@echo "== clippy (ssr: app + server, all targets)"
	cargo clippy -p app -p server --all-targets --features app/testing,server/bench -- -D warnings
	@echo "== clippy (hydrate: frontend for wasm32)"
	cargo clippy -p frontend --target wasm32-unknown-unknown --target-dir $(FRONT_TARGET_DIR) -- -D warnings

unit-tests:
	@echo "== unit, DB contract (SQLite$(if $(PG_URL), + PostgreSQL,)) and HTTP tests"
	COSTROOM_TEST_PG_URL="$(PG_URL)" $(if $(PG_URL),COSTROOM_REQUIRE_PG=1,) \
	  cargo test -p app -p server --features app/testing

# The browser suite runs against a fresh SQLite file, and again against a fresh PostgreSQL
# database when one is configured (the same pages must show the same figures on both).
e2e:
	@echo "== end-to-end in Chromium on SQLite (fresh file, demo seed 42, today $(E2E_TODAY))"
	rm -rf target/e2e && mkdir -p target/e2e
	$(MAKE) --no-print-directory e2e-run E2E_URL="sqlite:$(abspath $(E2E_DB))"
ifneq ($(PG_URL),)
	@echo "== end-to-end in Chromium on PostgreSQL (fresh database, demo seed 42, today $(E2E_TODAY))"
	psql "$(PG_URL)" -qc "drop database if exists costroom_e2e with (force)" -c "create database costroom_e2e"
	$(MAKE) --no-print-directory e2e-run E2E_URL="$(PG_E2E_URL)"
	psql "$(PG_URL)" -qc "drop database if exists costroom_e2e with (force)"
endif

# the test server's database: same server and credentials as PG_URL, database costroom_e2e
PG_E2E_URL = $(shell echo "$(PG_URL)" | sed -E 's#^(postgres(ql)?://[^/]+)/[^?]*#\1/costroom_e2e#')

e2e-run:
	$(BIN) --database-url "$(E2E_URL)" demo --end-date $(E2E_TODAY) --volume 0.25
	cd end2end && COSTROOM_BIN="$(abspath $(BIN))" COSTROOM_DB="$(E2E_URL)" \
	  COSTROOM_SITE="$(abspath $(SITE))" COSTROOM_TODAY=$(E2E_TODAY) \
	  E2E_PORT=$$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})") \
	  npx playwright test

# Figures, not pass/fail (release build): seeding throughput, Overview latency and memory;
# HTTP ingest through a real server vs a plain bulk insert; a FOCUS import; Overview and
# explorer latency over 90 days against a plain GROUP BY of the raw events. Sizes:
# BENCH_EVENTS (default 5,000,000), BENCH_FOCUS_ROWS (default 1,000,000) and
# BENCH_SPEND_EVENTS (default 10,000,000).
BENCH_EVENTS ?= 5000000
BENCH_FOCUS_ROWS ?= 1000000
BENCH_SPEND_EVENTS ?= 10000000
BENCH_LOAD_SECS ?= 60
FUZZ_MINUTES ?= 10
bench:
	cargo build -q -p server --bins --features bench --profile server-release
	COSTROOM_TEST_PG_URL="$(PG_URL)" $(TARGET_DIR)/server-release/costroom-bench
	COSTROOM_TEST_PG_URL="$(PG_URL)" $(TARGET_DIR)/server-release/costroom-bench ingest $(BENCH_EVENTS) 2
	COSTROOM_TEST_PG_URL="$(PG_URL)" $(TARGET_DIR)/server-release/costroom-bench focus $(BENCH_FOCUS_ROWS)
	COSTROOM_TEST_PG_URL="$(PG_URL)" $(TARGET_DIR)/server-release/costroom-bench spend $(BENCH_SPEND_EVENTS)
	COSTROOM_TEST_PG_URL="$(PG_URL)" $(TARGET_DIR)/server-release/costroom-bench load $(BENCH_LOAD_SECS) 200 200
	COSTROOM_TEST_PG_URL="$(PG_URL)" $(TARGET_DIR)/server-release/costroom-bench pages 20
	COSTROOM_TEST_PG_URL="$(PG_URL)" $(TARGET_DIR)/server-release/costroom-bench authorize 2000 10 50
	COSTROOM_TEST_PG_URL="$(PG_URL)" $(TARGET_DIR)/server-release/costroom-bench gateway 1000 10 1000
	COSTROOM_TEST_PG_URL="$(PG_URL)" $(TARGET_DIR)/server-release/costroom-bench guardrails 100000

# First paint on a cold browser over loopback (release bundle and server, the demo at volume 1):
# first contentful paint, time to hydrated and bytes over the wire, p50 / p95 / max.
PAINT_DB := target/paint.db
bench-paint: build-front-release
	# the same build as `make bench` (features unify), so the two never rebuild each other
	cargo build -q -p server --bins --features bench --profile server-release
	rm -f $(PAINT_DB)
	$(TARGET_DIR)/server-release/costroom --database-url "sqlite:$(abspath $(PAINT_DB))" demo --volume 1 >/dev/null
	port=$$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"); \
	  COSTROOM_LOG=warn $(TARGET_DIR)/server-release/costroom --database-url "sqlite:$(abspath $(PAINT_DB))" \
	    serve --addr 127.0.0.1:$$port --site-root $(SITE) & pid=$$!; \
	  trap "kill $$pid" EXIT; \
	  for i in $$(seq 60); do curl -sf http://127.0.0.1:$$port/healthz >/dev/null && break; sleep 0.5; done; \
	  cd end2end && BASE_URL=http://127.0.0.1:$$port ROUNDS=$${ROUNDS:-10} node bench/first-paint.mjs

# Mutation fuzzing of every parser outsiders feed (no panic allowed); see costroom-fuzz.rs.
fuzz:
	cargo build -q -p server --bin costroom-fuzz --profile server-release
	$(TARGET_DIR)/server-release/costroom-fuzz $(FUZZ_MINUTES)
