# bufpng: the two commands of the quick start, and the targets behind them.
#   make demo   create .venv, install bufpng from source, run `python -m bufpng demo`
#   make test   create .venv, install bufpng and its test extras, cargo test, pytest
#   make bench  write_frames throughput by thread count and peak memory (bench/)
#   make wheel  sdist + abi3 wheel in dist/ (python -m build), wheel checked with abi3audit
#   make sdist-check  make wheel, then install the sdist into a fresh venv and use it
# Each does all of its own set-up on a fresh machine (Python 3.11 + Rust).

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
PIP    := $(VPY) -m pip
# cargo test links libpython; point pyo3 at the venv's interpreter.
export PYO3_PYTHON := $(abspath $(VPY))

.PHONY: demo test bench venv install install-test pngcheck cargo-test pytest lint clean wheel sdist-check

demo: install
	$(VPY) -m bufpng demo

test: install-test pngcheck cargo-test pytest

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

venv: $(VPY)

# Always reinstall: the extension must match the sources being tested.
install: venv
	$(PIP) install --quiet .

install-test: venv
	$(PIP) install --quiet ".[test]"

# pngcheck is a test-only Debian tool; install it when absent.
pngcheck:
	@command -v pngcheck >/dev/null 2>&1 || { \
	  echo "installing pngcheck with apt-get"; \
	  apt-get update -qq && apt-get install -y -qq pngcheck >/dev/null; }

# Figures only, no pass/fail: the machine is shared and timings are noisy.
bench: install-test
	$(VPY) bench/batch_scaling.py

# Packaging checks take 1-2 minutes (two release builds), so they are
# targets of their own rather than part of `make test`.
wheel: venv
	$(PIP) install --quiet "build>=1" "abi3audit>=0.0.20"
	rm -rf dist
	$(VPY) -m build --outdir dist .
	@ls dist/bufpng-*-cp311-abi3-*.whl >/dev/null 2>&1 || { echo "expected a cp311-abi3 wheel in dist/"; exit 1; }
	$(VPY) -m abi3audit --strict --summary dist/*.whl

# The sdist must build on its own: Cargo.lock, build.rs, ffi/, src/ included.
sdist-check: wheel
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(PYTHON) -m venv "$$tmp/venv" && \
	  "$$tmp/venv/bin/python" -m pip install --quiet dist/bufpng-*.tar.gz && \
	  cd "$$tmp" && "$$tmp/venv/bin/python" $(CURDIR)/tools/check_install.py && \
	  "$$tmp/venv/bin/bufpng" --version

cargo-test: venv
	cargo test --workspace

pytest: install-test
	$(VPY) -m pytest -q pytests

lint:
	cargo fmt --check
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf $(VENV) build dist target python/bufpng/*.so python/*.egg-info
