#!/usr/bin/env bash
# valgrind memcheck over the pytest suite's core tests, with CPython's own
# allocator switched off (PYTHONMALLOC=malloc) so every allocation is seen.
#
#   reliability/valgrind.sh [PYTHON] [pytest arguments...]
#
# Defaults: .venv/bin/python, and the reliability tests minus those that only
# spawn subprocesses or sleep (children are not traced). Prints valgrind's
# error summary and every error whose stack passes through bufpng's library
# (_bufpng*.so); exits 1 if there is any such error or definite leak.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-.venv/bin/python}
shift || true
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  tests=(pytests/test_reliability.py -k "not killed and not mid_file and not resized_between and not little_memory")
fi
log=${VALGRIND_LOG:-valgrind.log}
PYTHONMALLOC=malloc BUFPNG_RELIABILITY_LOOPS=${BUFPNG_RELIABILITY_LOOPS:-5} \
  valgrind --tool=memcheck --error-limit=no --num-callers=30 \
  --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --log-file="$log" \
  "$python" -m pytest -q -p no:cacheprovider "${tests[@]}"
grep -E "ERROR SUMMARY|definitely lost" "$log" | tail -2
# An error is bufpng's when the first frame of its stack outside the allocator
# and libc/std helpers is in bufpng (`_bufpng::`, `bufpng_core::`, or
# _bufpng*.so without symbols). Leaks count only when definite.
"$python" - "$log" <<'PY'
import re, sys

GENERIC = re.compile(r"vgpreload|\b(malloc|calloc|realloc|free|mem\w+|str\w+) \(|(?<!\w)(alloc|core|std)::|__rust|raw_vec|hashbrown")
blocks, block = [], []
for line in open(sys.argv[1], errors="replace"):
    text = re.sub(r"^==\d+== ?", "", line.rstrip("\n"))
    if not text.strip():
        if block:
            blocks.append(block)
        block = []
    else:
        block.append(text)
ours = []
for block in blocks:
    head = block[0]
    if not (head[:1].isupper() or "definitely lost" in head) or "SUMMARY" in head:
        continue
    frames = [f for f in block[1:] if re.match(r"\s+(at|by) 0x", f)]
    first = next((f for f in frames if not GENERIC.search(f)), "")
    if "bufpng" in first:
        ours.append("\n".join(block))
if ours:
    print(f"{len(ours)} error(s) in bufpng's code (full log: {sys.argv[1]}):")
    print("\n\n".join(ours))
    sys.exit(1)
print(f"no memcheck errors or definite leaks in bufpng's code ({len(blocks)} blocks read; full log: {sys.argv[1]})")
PY
