# bufpng: the two commands of the quick start, and the targets behind them.
#   make demo   create .venv, install bufpng from source, run `python -m bufpng demo`
#   make test   create .venv, install bufpng and its test extras, cargo test, pytest
#   make bench  install bufpng (release) and its bench extras, run bench/ and
#               update docs/benchmarks.md and docs/benchmarks.png (encode, batch, decode, APNG)
# Long reliability runs (docs/reliability.md; the fast subsets are in make test):
#   make leaks     100,000 calls per public call and error path: RSS and refcounts
#   make faults    200 batch writers killed at random moments, then checked;
#                  hostile PNGs decoded with 1 GiB of address space
#   make fuzz      cargo-fuzz targets and the atheris harness, FUZZ_SECONDS each
#   make valgrind  memcheck (PYTHONMALLOC=malloc) over the reliability tests
# Packaging (docs/packaging.md):
#   make wheel        sdist + abi3 manylinux2014 wheel in dist/ (python -m build, zig linker,
#                     auditwheel), checked with abi3audit and twine
#   make test-matrix  make wheel, then the test suite against that wheel in a fresh venv of
#                     each CPython 3.11+ found (PATH, pyenv); fails if one fails
#   make sdist-check  make wheel, then install the sdist into a fresh venv and use it
# Each does all of its own set-up on a fresh machine (Python 3.11 + Rust).

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
PIP    := $(VPY) -m pip
# cargo test links libpython; point pyo3 at the venv's interpreter.
export PYO3_PYTHON := $(abspath $(VPY))

.PHONY: demo test bench venv install install-test install-minimal install-bench pngcheck strace cargo-test pytest lint clean \
	leaks faults fuzz valgrind wheel test-matrix sdist-check

demo: install
	$(VPY) -m bufpng demo

test: install-test pngcheck strace cargo-test pytest

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

venv: $(VPY)

# Always reinstall: the extension must match the sources being tested.
install: venv
	$(PIP) install --quiet .

install-test: venv
	$(PIP) install --quiet ".[test]"

# examples/minimal, the tutorial's smallest consumer (docs/buffer-protocol.md):
# a module of its own, built and tested with the rest.
install-minimal: venv
	$(PIP) install --quiet ./examples/minimal

install-bench: venv
	$(PIP) install --quiet ".[bench]"

# Figures only, no pass/fail: the machine is shared and timings are noisy.
# Timings only mean something on the release build that pip installs.
bench: install-bench
	$(VPY) bench/run.py

# Test-only tools: pngcheck (PNG checks) and strace (the fsync calls of
# durable=True, pytests/test_misreads.py). Installed with apt-get only where
# that works without asking (root with apt-get: CI, containers); elsewhere
# the tests that need them skip and say how to install them. Never a reason
# to fail.
pngcheck strace:
	@command -v $@ >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $@ with apt-get"; \
	    { apt-get update -qq && apt-get install -y -qq $@ >/dev/null; } \
	      || echo "apt-get could not install $@: the tests that need it will skip"; \
	  else \
	    echo "$@ not found: the tests that need it will skip (install it with your package manager, e.g. apt-get install $@)"; \
	  fi; }

# Packaging checks take a few minutes (two release builds), so they are
# targets of their own rather than part of `make test`.
# tools/build-wheel.sh installs its tools (build, zig, auditwheel, abi3audit,
# twine) into .venv, links through zig for glibc 2.17 and checks the result.
wheel: venv
	tools/build-wheel.sh $(VPY)

# The abi3 promise: the one wheel passes the tests on every CPython 3.11+
# found on PATH or under pyenv, each in a fresh venv.
test-matrix: wheel
	tools/test-matrix.sh $(VPY)

# The sdist must build on its own: Cargo.lock, build.rs, ffi/, src/ included.
sdist-check: wheel
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(PYTHON) -m venv "$$tmp/venv" && \
	  "$$tmp/venv/bin/python" -m pip install --quiet dist/bufpng-*.tar.gz && \
	  cd "$$tmp" && "$$tmp/venv/bin/python" $(CURDIR)/tools/check_install.py && \
	  "$$tmp/venv/bin/bufpng" --version

cargo-test: venv
	cargo test --workspace

pytest: install-test install-minimal
	$(VPY) -m pytest -q pytests examples/minimal

leaks: install-test
	$(VPY) reliability/leaks.py

faults: install-test
	$(VPY) reliability/faults.py kill-loop 200 $$(mktemp -d)
	$(VPY) reliability/faults.py kill-loop 50 $$(mktemp -d) animation
	$(VPY) reliability/faults.py decode-limits

FUZZ_SECONDS ?= 600
fuzz: install-test
	$(PIP) install --quiet ".[fuzz]"
	FUZZ_SECONDS=$(FUZZ_SECONDS) reliability/fuzz.sh
	mkdir -p fuzz/corpus/python fuzz/artifacts/python
	$(VPY) reliability/fuzz_python.py fuzz/corpus/python -artifact_prefix=fuzz/artifacts/python/ \
	  -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1

valgrind: install-test
	@command -v valgrind >/dev/null 2>&1 || { \
	  apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
	reliability/valgrind.sh $(VPY)

lint:
	cargo fmt --check
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf $(VENV) build dist target python/bufpng/*.so python/*.egg-info
