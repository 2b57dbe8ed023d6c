# The few commands a newcomer needs. `make run` and `make test` work on a fresh machine.
PY     ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= data
HOST   ?= 127.0.0.1
PORT   ?= 8080
PYTEST_ARGS ?=

.PHONY: run test venv system-deps lint typecheck soak bench clean types web-deps web-check web-lint web-build web-test bench-web

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

## run: set up, migrate, seed the demo into an empty data dir, and serve on $(HOST):$(PORT)
run: venv web-build
	$(BIN)/meetingd db upgrade --data-dir $(DATA)
	$(BIN)/meetingd demo --if-empty --data-dir $(DATA)
	$(BIN)/meetingd serve --data-dir $(DATA) --host $(HOST) --port $(PORT)

## system-deps: Debian packages the tests use (Chromium, coturn, ffmpeg, fonts); installs only what is missing
system-deps:
	bash scripts/system-deps.sh

## test: set up and run the whole suite (soak tests excluded), then lint and type-check
test: venv system-deps web-deps web-build
	$(BIN)/python -m pytest -m "not soak" $(PYTEST_ARGS)
	$(MAKE) --no-print-directory lint typecheck web-check web-lint web-test

lint: venv
	$(BIN)/ruff check meetingd media tests bench

typecheck: venv
	$(BIN)/mypy

# The server's wire contract (REST, socket commands, events, error codes) as one JSON document.
CONTRACT = $(BIN)/python -m meetingd.contract schema

# A failing contract command must fail the recipe, not feed the generator half a document.
types web-check: SHELL := /bin/bash
types web-check: .SHELLFLAGS := -o pipefail -ec

## types: regenerate web/src/generated/ (the TypeScript wire types) from the server's contract
types: venv web-deps
	$(CONTRACT) | node web/scripts/gen-types.mjs -

## web-deps: the front end's packages, from web/package-lock.json (again only when it changed)
web-deps: web/node_modules/.package-lock.json

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

## web-check: the generated types match the server, and the front end type-checks
web-check: venv web-deps
	$(CONTRACT) | node web/scripts/gen-types.mjs --check -
	web/node_modules/.bin/tsc --noEmit -p web

## web-lint: ESLint (typescript-eslint, strict and type-aware) on web/
web-lint: web-deps
	cd web && node_modules/.bin/eslint .

# The front end's sources: a change to any of them rebuilds web/dist (and only then).
WEB_SRC := $(shell find web/src -type f 2>/dev/null) $(wildcard web/*.html) \
           web/vite.config.mjs web/tsconfig.json web/package-lock.json

## web-build: build the four views into web/dist (served by meetingd at /), when web/ changed
web-build: web/dist/index.html

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && node_modules/.bin/vite build --logLevel warn
	touch $@

## web-test: the client library's unit tests (Vitest)
web-test: web-deps
	cd web && node_modules/.bin/vitest run

## soak: the long soak tests, separately
soak: venv system-deps
	$(BIN)/python -m pytest -m soak $(PYTEST_ARGS)

## bench: every benchmark, printing JSON figures (see README)
bench: venv system-deps
	$(BIN)/python bench/realtime_fanout.py
	$(BIN)/python bench/sfu_forward.py
	$(BIN)/python bench/district_meeting.py
	$(MAKE) --no-print-directory bench-web

## bench-web: the browser figures (console load with 40 bridge points, first frame, JS size)
bench-web: venv web-build
	$(BIN)/python bench/web_load.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
