#!/usr/bin/env python3
"""Benchmarks Winnow's selection strategies on real data (Debian's fortunes).

    python3 experiments/run.py e1|e2|e3|all [--quick] [--seeds N] [--target DOMAIN]
    python3 experiments/run.py --list-domains

Installs what is missing first (the fortunes packages with apt-get, sudo
when not root; matplotlib with pip), then runs the experiment grid and writes
experiments/results/<experiment>/<run>/ (results.json, table.csv, table.md,
PNG plots). See experiments/README.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

# One BLAS thread: the machines we share have 2 cores, and OpenBLAS threads
# spinning against each other under load cost up to 10× (measured here).
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def ensure_python_packages() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("installing matplotlib …", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"], check=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", nargs="?", choices=["e1", "e2", "e3", "all"],
                   help="e1 targeted selection, e2 noisy labels, e3 domain mixture, or all")
    p.add_argument("--quick", action="store_true", help="reduced sizes (each under 3 minutes)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per grid cell (default 3)")
    p.add_argument("--target", help="target domain for e1 and e3 (see --list-domains)")
    p.add_argument("--out", help="results folder (default experiments/results/<exp>/<run>)")
    p.add_argument("--list-domains", action="store_true", help="print the domains and their sizes")
    a = p.parse_args(argv)

    from winnow_experiments import data, harness, winnow_bridge

    data.ensure_installed()
    if a.list_domains:
        print(data.list_domains())
        return 0
    if a.experiment is None:
        p.error("name an experiment (e1, e2, e3, all) or pass --list-domains")
    if a.seeds < 1:
        p.error("--seeds must be at least 1")
    ensure_python_packages()
    ok, why = winnow_bridge.available()
    if not ok:
        print(f"error: {why}\n(`make lib` builds libwinnow.so; `make experiments-quick` "
              "builds it and runs; see experiments/README.md)", file=sys.stderr)
        return 2
    from winnow_experiments import e1_targeted, e2_noisy, e3_mixture

    runners = {"e1": e1_targeted.run, "e2": e2_noisy.run, "e3": e3_mixture.run}
    names = list(runners) if a.experiment == "all" else [a.experiment]
    for name in names:
        cfg = harness.Config(quick=a.quick, seeds=a.seeds, target=a.target,
                             out=a.out if len(names) == 1 else None)
        t = time.time()
        table = runners[name](cfg)
        print(f"\n{table}\n\n{name}: {time.time() - t:.0f} s\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
