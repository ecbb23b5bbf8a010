# bufpng: the two commands of the quick start, and the targets behind them.
#   make demo   create .venv, install bufpng from source, run `python -m bufpng demo`
#   make test   create .venv, install bufpng and its test extras, cargo test, pytest
#   make bench  write_frames throughput by thread count and peak memory (bench/)
# Long reliability runs (docs/reliability.md; the fast subsets are in make test):
#   make leaks     100,000 calls per public call and error path: RSS and refcounts
#   make faults    200 batch writers killed at random moments, then checked;
#                  hostile PNGs decoded with 1 GiB of address space
#   make fuzz      cargo-fuzz targets and the atheris harness, FUZZ_SECONDS each
#   make valgrind  memcheck (PYTHONMALLOC=malloc) over the reliability tests
# Each does all of its own set-up on a fresh machine (Python 3.11 + Rust).

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
PIP    := $(VPY) -m pip
# cargo test links libpython; point pyo3 at the venv's interpreter.
export PYO3_PYTHON := $(abspath $(VPY))

.PHONY: demo test bench venv install install-test pngcheck cargo-test pytest lint clean \
	leaks faults fuzz valgrind

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

cargo-test: venv
	cargo test --workspace

pytest: install-test
	$(VPY) -m pytest -q pytests

leaks: install-test
	$(VPY) reliability/leaks.py

faults: install-test
	$(VPY) reliability/faults.py kill-loop 200 $$(mktemp -d)
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
