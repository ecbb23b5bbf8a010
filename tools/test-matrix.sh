#!/usr/bin/env bash
# make test-matrix: the one abi3 wheel in dist/ (make wheel), installed into a
# fresh virtual environment of every CPython 3.11+ found, must pass the test
# suite there (pytests/ and examples/minimal, as make test runs them, against
# the installed package, not the sources).
#
# Interpreters: python3.11 .. python3.20 on PATH, then pyenv's
# $(pyenv root)/versions/*/bin/python3.*; the first that runs wins for each
# version (a pyenv shim for a version that is not selected does not run).
#   tools/test-matrix.sh PYTHON     (PYTHON: the venv interpreter that builds examples/minimal)
set -uo pipefail
cd "$(dirname "$0")/.."
builder=$(realpath -s "${1:?usage: tools/test-matrix.sh PYTHON}")
wheels=(dist/bufpng-*-cp311-abi3-*.whl)
[ -f "${wheels[0]}" ] || { echo "test-matrix: no cp311-abi3 wheel in dist/ (make wheel)"; exit 1; }
wheel=$(realpath "${wheels[0]}")
# The tests also load examples/minimal (the tutorial's module, abi3 too):
# built once, beside the bufpng wheel, installed into every venv.
extra=$(mktemp -d "${TMPDIR:-/tmp}/bufpng-matrix-minimal.XXXX")
trap 'rm -rf "$extra"' EXIT
"$builder" -m pip wheel --quiet --no-deps --wheel-dir "$extra" ./examples/minimal || { echo "test-matrix: examples/minimal did not build"; exit 1; }
minimal=("$extra"/bufpng_minimal-*.whl)

candidates=()
for minor in $(seq 11 20); do
  command -v "python3.$minor" >/dev/null 2>&1 && candidates+=("$(command -v "python3.$minor")")
done
if command -v pyenv >/dev/null 2>&1; then
  for python in "$(pyenv root)"/versions/*/bin/python3.[0-9]*; do
    [[ -x "$python" && "$python" != *-config ]] && candidates+=("$python")
  done
fi

declare -A chosen=()
versions=()
for python in "${candidates[@]}"; do
  version=$("$python" -c 'import sys; assert sys.implementation.name == "cpython" and sys.version_info >= (3, 11); print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
  [ -n "${chosen[$version]:-}" ] && continue
  chosen[$version]=$("$python" -c 'import sys; print(sys.executable)')
  versions+=("$version")
done
[ ${#versions[@]} -gt 0 ] || { echo "test-matrix: no CPython 3.11+ found"; exit 1; }
mapfile -t versions < <(printf '%s\n' "${versions[@]}" | sort -V)
echo "test-matrix: $(basename "$wheel") on:"
for version in "${versions[@]}"; do echo "  $version  ${chosen[$version]}"; done

declare -A result=()
failed=0
for version in "${versions[@]}"; do
  python=${chosen[$version]}
  venv=$(mktemp -d "${TMPDIR:-/tmp}/bufpng-matrix-$version.XXXX")
  echo "=== Python $version: fresh venv in $venv"
  if "$python" -m venv "$venv" \
    && "$venv/bin/python" -m pip install --quiet --upgrade pip \
    && "$venv/bin/python" -m pip install --quiet "$wheel[test]" "${minimal[0]}" \
    && (cd /tmp && "$venv/bin/python" -c 'import bufpng, sys; assert bufpng.__file__.startswith(sys.prefix), bufpng.__file__; print("imports", bufpng.__file__)') \
    && "$venv/bin/python" -m pytest -q -p no:cacheprovider pytests examples/minimal; then
    result[$version]=passed
  else
    result[$version]=FAILED
    failed=1
  fi
  rm -rf "$venv"
done
echo "test-matrix results:"
for version in "${versions[@]}"; do echo "  Python $version (${chosen[$version]}): ${result[$version]}"; done
exit $failed
