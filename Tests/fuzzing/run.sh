#!/usr/bin/env bash
# The fuzz targets (libFuzzer): build them, replay the committed corpus and
# crash reproducers, and fuzz each target for a while.
#
#   run.sh build              build the three targets into .build-fuzz
#   run.sh smoke [SECONDS]    replay corpus/ and regressions/, then fuzz each
#                             target SECONDS (default 10) from a scratch copy
#   run.sh fuzz [SECONDS]     fuzz each target SECONDS (default 180) from
#                             .build-fuzz/corpus; new inputs stay there, and
#                             crashes go to .build-fuzz/artifacts/TARGET/
#   run.sh merge              minimize .build-fuzz/corpus into corpus/
#
# Targets: npy_header (NPYHeader.parse), store_manifest (the store manifest
# decoder, then FeatureStore and FeatureStoreWriter on it), capi (call
# sequences into libwinnow.so built with coverage and AddressSanitizer, in
# $FUZZ_LIB: `make fuzz-lib`).
# FUZZ_TARGETS="capi ..." runs only those targets; FUZZ_RUNS=N stops each
# after N executions (or SECONDS, whichever comes first).
# WINNOW_FUZZ_SKIP_KNOWN=1 skips the crashes issue 12 lists (until their
# fixes are merged); the known/ reproducers are replayed only without it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scratch="$root/.build-fuzz"
lib_dir="$root/${FUZZ_LIB:-.build-fuzz/lib}"
swift_lib=$(dirname "$(readlink -f "$(command -v swiftc)")")/../lib/swift/linux
read -r -a targets <<<"${FUZZ_TARGETS:-npy_header store_manifest capi}"

binary() {
  case $1 in
    npy_header) echo "$scratch/release/FuzzNPYHeader" ;;
    store_manifest) echo "$scratch/release/FuzzStoreManifest" ;;
    capi) echo "$scratch/fuzz-capi" ;;
  esac
}

dict() { [ "$1" = store_manifest ] && echo "-dict=$here/dict/manifest.dict" || true; }

build() {
  # Swift: every module (Winnow included) instrumented for coverage and
  # AddressSanitizer; lld, because gold fails on the sanitizer objects.
  swift build -c release --package-path "$here" --scratch-path "$scratch" \
    -Xswiftc -enable-testing -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld \
    2>&1 | grep -v "Cannot export local symbol" || true
  [ -x "$(binary npy_header)" ] && [ -x "$(binary store_manifest)" ] || {
    echo "FAIL: the Swift fuzz targets did not build"; exit 1; }
  # C: the driver instrumented (coverage, ASan, UBSan), linked against the
  # library's Swift code instrumented (coverage, ASan); OpenBLAS, LAPACKE and
  # the Swift runtime are not.
  clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I "$lib_dir" -o "$(binary capi)" "$here/capi/fuzz_capi.c" \
    -fuse-ld=lld -L "$lib_dir" -lwinnow -Wl,-rpath,"$lib_dir:$swift_lib" -lm
}

# Runs every file of the committed corpus and reproducers once.
replay() {
  local t=$1 files=()
  for d in corpus regressions; do
    [ -d "$here/$d/$t" ] && files+=("$here/$d/$t"/*)
  done
  if [ -z "${WINNOW_FUZZ_SKIP_KNOWN:-}" ] && [ -d "$here/known/$t" ]; then
    files+=("$here/known/$t"/*)
  fi
  echo "== $t: replaying ${#files[@]} inputs"
  "$(binary "$t")" -runs=1 "${files[@]}" >"$scratch/replay-$t.log" 2>&1 || {
    tail -40 "$scratch/replay-$t.log"; echo "FAIL: $t crashed on a committed input"; exit 1; }
}

# Fuzzes $1 for $2 seconds from corpus dir $3; prints libFuzzer's last line.
fuzz_one() {
  local t=$1 seconds=$2 corpus=$3 log="$scratch/$mode-$1.log"
  mkdir -p "$corpus" "$scratch/artifacts/$t"
  echo "== $t: fuzzing ${seconds}s"
  if ! "$(binary "$t")" $(dict "$t") -max_total_time="$seconds" -runs="${FUZZ_RUNS:--1}" \
       -timeout=20 -rss_limit_mb=4096 \
       -print_final_stats=1 -artifact_prefix="$scratch/artifacts/$t/" "$corpus" \
       "$here/corpus/$t" >"$log" 2>&1; then
    grep -E "ERROR|SUMMARY|==[0-9]+==|Fatal|panic|returned status|abort" "$log" | head -20
    echo "FAIL: $t found a crash: $(ls "$scratch/artifacts/$t" | tail -1) (log $log)"
    return 1
  fi
  grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -1
  grep -E "stat::(number_of_executed_units|average_exec_per_sec)" "$log"
}

# A Swift trap under ASan: let ASan alone report it (the Swift runtime's own
# backtracer in the same signal makes ASan abort on a "nested bug" instead,
# before libFuzzer can save the input).
export SWIFT_BACKTRACE=enable=no
mode=${1:-smoke}
case $mode in
  build) build ;;
  smoke)
    seconds=${2:-10}
    for t in "${targets[@]}"; do replay "$t"; done
    status=0
    for t in "${targets[@]}"; do
      work=$(mktemp -d)
      fuzz_one "$t" "$seconds" "$work" || status=1
      rm -rf "$work"
    done
    exit $status ;;
  fuzz)
    seconds=${2:-180}
    status=0
    for t in "${targets[@]}"; do fuzz_one "$t" "$seconds" "$scratch/corpus/$t" || status=1; done
    exit $status ;;
  merge)
    for t in "${targets[@]}"; do
      mkdir -p "$here/corpus/$t"
      "$(binary "$t")" -merge=1 "$here/corpus/$t" "$scratch/corpus/$t" 2>&1 | tail -1
    done ;;
  *) echo "usage: $0 build|smoke [SECONDS]|fuzz [SECONDS]|merge"; exit 2 ;;
esac
