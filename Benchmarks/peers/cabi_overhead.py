"""C ABI call overhead from Python (ctypes, through bindings/python/winnow).

Figures: ``cabi.call.abi_version`` (ns per bare call of ``wn_abi_version``)
against ``peer.ctypes.call.libc`` (ns per ctypes call of libc ``rand``: the
floor any ctypes binding pays); ``cabi.select_top_k.16`` (us per
``winnow.select_top_k`` of 16 scores: argument checks and array marshalling
included); ``cabi.engine.step.<B>to<b>`` (s per ``winnow.select_step``),
compared in run.py with the Swift ``engine.step.<B>to<b>``.
"""
import ctypes
import ctypes.util
import os
import sys
import time

import numpy as np

from records import Recorder, best_time, parser

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))


def per_call(fn, calls):
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def main():
    args = parser(__doc__).parse_args()
    import winnow
    from winnow import _lib

    calls = 20_000 if args.smoke else 200_000
    rec = Recorder()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.rand.restype, libc.rand.argtypes = ctypes.c_int, []
    rec.add("peer.ctypes.call.libc", per_call(libc.rand, calls) * 1e9, "ns",
            "ctypes call of libc rand(): no arguments, returns int, like wn_abi_version")
    f = _lib.lib.wn_abi_version
    rec.add("cabi.call.abi_version", per_call(f, calls) * 1e9, "ns",
            "ctypes call of wn_abi_version through libwinnow.so", vs="peer.ctypes.call.libc")
    s = np.arange(16, dtype=np.float32)
    rec.add("cabi.select_top_k.16", per_call(lambda: winnow.select_top_k(s, 4), calls // 10) * 1e6, "us",
            "winnow.select_top_k(16 scores, k=4): checks, marshalling, call")
    b, keep, k = (32, 8, 256) if args.smoke else (256, 64, 8192)
    rng = np.random.default_rng(3)
    feats = rng.uniform(-1, 1, size=(b, k)).astype(np.float32)
    target = rng.uniform(-1, 1, size=k).astype(np.float32)
    t = best_time(lambda: winnow.select_step(feats, target, keep, 0.01), repeats=5)
    rec.add(f"cabi.engine.step.{b}to{keep}", t, "s",
            f"winnow.select_step from Python, B = {b}, b = {keep}, k = {k}",
            vs=f"engine.step.{b}to{keep}")
    rec.write(args.output)


if __name__ == "__main__":
    main()
