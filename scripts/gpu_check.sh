#!/usr/bin/env bash
# The GPU checks of winnow.torch and winnow.hf, for a lent GPU machine that has
# PyTorch, transformers and peft but no Swift, no OpenBLAS and no network.
#
#   scripts/gpu_check.sh pack   # here: release libwinnow.so + its shared libraries
#                               # -> .devlib/libs.tar.xz (add /.devlib/ to .git/info/exclude)
#   scripts/gpu_check.sh run    # there, with .devlib carried: CUDA tests, the extraction
#                               # benchmark, the Trainer overhead (results under $OUT)
#
# The figures of a run are in Benchmarks/README.md ("On a GPU").
set -o pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
pack)
  make lib >/dev/null || exit 1
  stage=$(mktemp -d)
  cp -L .build/lib/libwinnow.so "$stage/" || exit 1
  # OpenBLAS, LAPACKE and what they load, resolved through the alternatives links.
  for lib in $(ldd .build/lib/libwinnow.so | awk '/=> \// {print $3}' \
      | grep -E 'openblas|lapack|blas|tmglib|gfortran|quadmath'); do
    cp -L "$lib" "$stage/" || exit 1
  done
  strip --strip-unneeded "$stage/libwinnow.so"
  mkdir -p .devlib && tar -cJf .devlib/libs.tar.xz -C "$stage" . && rm -rf "$stage"
  ls -l .devlib/libs.tar.xz ;;
run)
  out=${OUT:-/tmp/winnow-gpu}; mkdir -p "$out" /tmp/winnow-libs
  tar -xJf .devlib/libs.tar.xz -C /tmp/winnow-libs || exit 1
  export LD_LIBRARY_PATH=/tmp/winnow-libs WINNOW_LIBRARY=/tmp/winnow-libs/libwinnow.so
  export PYTHONPATH=$PWD/bindings/python PYTHONUNBUFFERED=1
  nvidia-smi -L
  python3 -c "import torch, transformers, peft; print('torch', torch.__version__, \
'transformers', transformers.__version__, 'peft', peft.__version__)" || exit 1
  echo "== winnow.torch tests on CUDA"
  timeout 200 python3 -m pytest -q -rs -p no:cacheprovider bindings/python/tests/test_torch_device.py \
    bindings/python/tests/test_torch_transformers.py 2>&1 | tee "$out/pytest.log"
  echo "== extraction benchmark"
  timeout 150 python3 Benchmarks/torch_extraction.py --device cuda \
    --output "$out/torch_extraction_gpu.json" 2>&1 | tee "$out/extraction.log"
  echo "== Trainer overhead, d = 1024 x 8 layers, 256 tokens"
  timeout 200 python3 Benchmarks/hf_overhead.py --device cuda --hidden 1024 --layers 8 \
    --tokens 256 --out "$out/hf_overhead_gpu_d1024.json" 2>&1 | grep -v train_runtime \
    | tee "$out/hf_overhead.log" ;;
*)
  echo "usage: scripts/gpu_check.sh pack|run" >&2; exit 2 ;;
esac
