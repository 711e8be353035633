#!/usr/bin/env bash
# The C ABI test programs under sanitizers (`make test-sanitize`):
#   1. test_loop, test_errors, test_cycles, test_threads, test_selection and
#      test_curvature built with AddressSanitizer + UndefinedBehaviorSanitizer (any report fails) and
#      linked against $1/libwinnow.so, a build of the library whose Swift
#      code (Winnow, WinnowC) is instrumented with AddressSanitizer too
#      (`make fuzz-lib`; its coverage counters are inert outside libFuzzer);
#      OpenBLAS, LAPACKE and the Swift runtime are not instrumented.
#      LeakSanitizer runs at exit.
#   2. test_threads (8 threads on their own handles) under ThreadSanitizer,
#      against the release library in $2: the driver and the pthread, malloc
#      and libc calls are checked; the library's own memory accesses are not
#      (a TSan build of Swift code cannot share a process with ASan).
set -euo pipefail
asan_lib=$(cd "${1:?usage: sanitize.sh ASAN_LIB_DIR RELEASE_LIB_DIR}" && pwd)
lib=$(cd "${2:?usage: sanitize.sh ASAN_LIB_DIR RELEASE_LIB_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
out="$asan_lib/ctests"
mkdir -p "$out"
swift_lib=$(dirname "$(readlink -f "$(command -v swiftc)")")/../lib/swift/linux
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

for t in test_loop test_errors test_cycles test_threads test_selection test_curvature; do
  clang -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
    -fno-sanitize-recover=all -Wall -Wextra -Werror -fuse-ld=lld -I "$asan_lib" -o "$out/$t-asan" \
    "$here/$t.c" -L "$asan_lib" -lwinnow -Wl,-rpath,"$asan_lib:$swift_lib" -lm -lpthread
done
for t in test_loop test_errors test_cycles test_threads test_selection test_curvature; do
  echo "== ASan+UBSan: $t"
  args=()
  [ "$t" = test_cycles ] && args=(40)  # 40 create/epoch/free cycles
  [ "$t" = test_selection ] && args=("$here/../Fixtures/store-v1")
  "$out/$t-asan" "${args[@]}" >"$out/$t-asan.log" 2>&1 || { tail -60 "$out/$t-asan.log"; exit 1; }
  tail -1 "$out/$t-asan.log"
done

echo "== TSan: test_threads"
# The toolchain's TSan runtime carries libdispatch interceptors: link it.
clang -std=c11 -g -O1 -fsanitize=thread -Wall -Wextra -Werror -I "$lib" -o "$out/test_threads-tsan" \
  "$here/test_threads.c" -L "$lib" -lwinnow -L "$swift_lib" -ldispatch -lBlocksRuntime \
  -Wl,-rpath,"$lib:$swift_lib" -lm -lpthread
"$out/test_threads-tsan"
