"""Shared helpers of the peer baselines: timing and the record format.

Every peer prints the same records as WinnowBench,
``{"name", "value", "unit", "vs", "ratio", "note"}``, as a JSON list to
``--output``; ``Benchmarks/run.py`` merges them and computes the ratios.
"""
import argparse
import json
import time


class Recorder:
    """Collects records and prints them as they come."""

    def __init__(self):
        self.records = []

    def add(self, name, value, unit, note=None, vs=None):
        rec = {"name": name, "value": float(value), "unit": unit}
        if vs:
            rec["vs"] = vs
        if note:
            rec["note"] = note
        self.records.append(rec)
        print(f"{name:<48} {value:12.4g} {unit}", flush=True)

    def write(self, path):
        if path:
            with open(path, "w") as f:
                json.dump(self.records, f, indent=2)


def best_time(fn, repeats=3, warmup=1):
    """The best wall time of ``repeats`` calls of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
    p.add_argument("--output", help="write the records here (JSON list)")
    return p
