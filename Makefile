# Development shortcuts; `make help` lists them. CI runs .ci/run, not this file.
PYTHON ?= python

.DEFAULT_GOAL := help

.PHONY: help
help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build-dev
build-dev:  ## Build the extension (debug) into the active venv
	maturin develop

.PHONY: build-prod
build-prod:  ## Build the extension (release) into the active venv
	maturin develop --release

.PHONY: test
test:  ## Python tests against the installed extension
	$(PYTHON) -m pytest

.PHONY: test-rust
test-rust:  ## Rust tests of the whole workspace
	cargo test --workspace

.PHONY: lint
lint:  ## What CI lints: rustfmt, clippy (warnings as errors), ruff check and format, mypy
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	ruff check python tests benchmarks
	ruff format --check python tests benchmarks
	mypy

.PHONY: bench
bench:  ## Criterion benchmarks
	cargo bench --workspace

.PHONY: ci
ci:  ## What CI runs: fresh venv, release wheel, cargo test, the README test command
	bash .ci/run
