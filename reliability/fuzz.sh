#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each (default 600),
# one after the other at the lowest CPU priority, and prints libFuzzer's
# final statistics (executions, coverage) per target.
#
#   reliability/fuzz.sh [target ...]      (default: all targets)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); libFuzzer's -Zsanitizer flags
# are accepted by the stable toolchain with RUSTC_BOOTSTRAP=1. Corpora live in
# fuzz/corpus/<target> (gitignored); crashers are written to
# fuzz/artifacts/<target>, and a crasher that was fixed becomes a regression
# test in the crate it exposed (see docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
seconds=${FUZZ_SECONDS:-600}
# Seed PNGs: the repository's test data, or $BUFPNG_TESTDATA (a larger
# collection laid out like pytests/data) when set.
testdata=$(realpath -m "${BUFPNG_TESTDATA:-pytests/data}")
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi
mkdir -p fuzz/logs
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  dict=()
  [ -f "fuzz/$target.dict" ] && dict=("-dict=$target.dict")
  seeds=()
  # A target whose input is a PNG file also reads the test images
  # (fuzz/<target>.seeds lists folders of the test data; read in place,
  # never copied; new inputs go to fuzz/corpus/<target> only).
  if [ -f "fuzz/$target.seeds" ]; then
    while read -r folder; do
      [ -d "$testdata/$folder" ] || { echo "missing test data: $testdata/$folder (BUFPNG_TESTDATA must be laid out like pytests/data)"; exit 1; }
      seeds+=("$testdata/$folder")
    done <"fuzz/$target.seeds"
  fi
  # Extra libFuzzer flags for one target (e.g. a larger -max_len).
  options=()
  [ -f "fuzz/$target.options" ] && read -r -a options <"fuzz/$target.options"
  log="fuzz/logs/$target.log"
  echo "fuzzing $target for ${seconds}s (log: $log)"
  (cd fuzz && nice -n 19 cargo fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
      -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
      "${dict[@]}" "${options[@]}") >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
  grep -E "stat::number_of_executed_units|stat::new_units_added|cov:" "$log" | tail -3
done
