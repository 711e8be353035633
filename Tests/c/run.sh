#!/usr/bin/env bash
# Builds the C ABI tests with `cc` against winnow.h and the release
# libwinnow.so in $1, and runs them with an empty LD_LIBRARY_PATH (the
# library must need nothing from the Swift toolchain), then checks exports
# and, when valgrind is installed, leaks over 1000 create/epoch/free cycles.
set -euo pipefail
lib_dir=$(cd "${1:?usage: run.sh LIB_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
out="$lib_dir/ctests"
mkdir -p "$out"

echo "== dependencies of libwinnow.so"
if readelf -d "$lib_dir/libwinnow.so" | grep NEEDED | grep -i swift; then
  echo "FAIL: libwinnow.so needs a Swift runtime library"; exit 1
fi
readelf -d "$lib_dir/libwinnow.so" | grep -E 'NEEDED|SONAME'
readelf -d "$lib_dir/libwinnow.so" | grep -q 'SONAME.*\[libwinnow.so\]' || {
  echo "FAIL: the SONAME is not libwinnow.so"; exit 1; }
if env -u LD_LIBRARY_PATH ldd "$lib_dir/libwinnow.so" | grep 'not found'; then
  echo "FAIL: unresolved dependencies"; exit 1
fi

for t in test_loop test_errors test_params test_cycles test_sparse test_selection test_contract test_curvature; do
  cc -std=c11 -O1 -Wall -Wextra -Werror -I "$lib_dir" -o "$out/$t" "$here/$t.c" \
    -L "$lib_dir" -lwinnow -Wl,-rpath,"$lib_dir" -lm
done

echo "== exports"
"$here/check_exports.sh" "$lib_dir/winnow.h" "$lib_dir/libwinnow.so"

for t in test_loop test_errors test_params test_sparse test_contract test_curvature; do
  echo "== $t"
  env LD_LIBRARY_PATH= "$out/$t"
done
echo "== test_selection"
env LD_LIBRARY_PATH= "$out/test_selection" "$here/../Fixtures/store-v1"

echo "== leaks: 1000 create/epoch/free cycles"
if command -v valgrind >/dev/null; then
  # Only leaks of memory the program can no longer reach fail the check: the
  # Swift runtime keeps its metadata caches reachable until exit, by design.
  env LD_LIBRARY_PATH= valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=1 "$out/test_cycles" 1000
else
  echo "valgrind not installed: running the cycles without a leak check"
  env LD_LIBRARY_PATH= "$out/test_cycles" 1000
fi

# Factor matrices for a first stage on another device (wn_factored_matrix_fill).
cc -std=c11 -O1 -Wall -Wextra -Werror -I "$lib_dir" -o "$out/test_factor_matrix" \
  "$here/test_factor_matrix.c" -L "$lib_dir" -lwinnow -Wl,-rpath,"$lib_dir" -lm
echo "== test_factor_matrix"
env LD_LIBRARY_PATH= "$out/test_factor_matrix"

echo "== test_threads: 8 threads, own handles each"
cc -std=c11 -O1 -Wall -Wextra -Werror -I "$lib_dir" -o "$out/test_threads" "$here/test_threads.c" \
  -L "$lib_dir" -lwinnow -Wl,-rpath,"$lib_dir" -lm -lpthread
env LD_LIBRARY_PATH= "$out/test_threads"
