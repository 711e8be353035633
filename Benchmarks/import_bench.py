"""Import throughput (issue 17): the figures `make bench-import` reports.

For each source format (TRAK's fp16 `grads.mmap`, a Bergson fp16
`gradients.bin`, LESS's fp16 tensor as a headerless `--from raw` matrix)
times `winnow store import` (read, convert, write shards, SHA-256 each
shard, publish) and, beside it on the same file, the plain read bandwidth
(sequential 64 MiB `readinto` blocks, warm page cache, as the import then
sees it) and the write+fsync bandwidth for the store's bytes. Reports GB/s
of source bytes and the ratio import / read.
Prints a JSON record and a Markdown table; sizes with --rows/--dim.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

HERE = Path(__file__).resolve().parent


def read_bandwidth(path: Path, block: int = 64 << 20) -> float:
    """Seconds to read `path` sequentially into one reused buffer."""
    buffer = bytearray(block)
    view = memoryview(buffer)
    start = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(view):
            pass
    return time.perf_counter() - start


def write_bandwidth(path: Path, size: int, block: int = 64 << 20) -> float:
    """Seconds to write `size` bytes to `path` in blocks and fsync it (what a
    store's shards cost the disk)."""
    buffer = np.random.default_rng(1).bytes(block)
    start = time.perf_counter()
    with open(path, "wb", buffering=0) as f:
        for done in range(0, size, block):
            f.write(buffer[: min(block, size - done)])
        os.fsync(f.fileno())
    seconds = time.perf_counter() - start
    os.remove(path)
    return seconds


def make_sources(root: Path, rows: int, dim: int) -> dict:
    """The same fp16 rows in each tool's layout; returns {format: (args, data file)}."""
    rng = np.random.default_rng(0)
    trak = root / "trak_results"
    (trak / "0").mkdir(parents=True)
    json.dump({"JL dimension": dim, "JL matrix type": "rademacher", "train set size": rows},
              open(trak / "metadata.json", "w"))
    grads = open_memmap(trak / "0" / "grads.mmap", mode="w+", dtype=np.float16, shape=(rows, dim))
    block = max(1, (64 << 20) // (2 * dim))
    for start in range(0, rows, block):
        end = min(rows, start + block)
        grads[start:end] = rng.standard_normal((end - start, dim), dtype=np.float32)
    grads.flush()
    flags = open_memmap(trak / "0" / "_is_featurized.mmap", mode="w+", dtype=np.int32, shape=(rows, 1))
    flags[:] = 1
    flags.flush()
    data_offset = grads.offset
    del grads, flags
    bergson = root / "bergson"
    bergson.mkdir()
    with open(trak / "0" / "grads.mmap", "rb") as src, open(bergson / "gradients.bin", "wb") as dst:
        src.seek(data_offset)
        shutil.copyfileobj(src, dst, 64 << 20)
    json.dump({"attribute_tokens": False, "num_items": rows, "num_grads": rows,
               "grad_sizes": {"model": dim}, "base_dtype": "float16"}, open(bergson / "info.json", "w"))
    return {
        "trak": (["--from", "trak", "--input", str(trak)], trak / "0" / "grads.mmap"),
        "bergson": (["--from", "bergson", "--input", str(bergson)], bergson / "gradients.bin"),
        "raw (LESS .pt data)": (["--from", "raw", "--input", str(trak / "0" / "grads.mmap"), "--offset",
                                 str(data_offset), "--rows", str(rows), "--cols", str(dim), "--element", "float16"],
                                trak / "0" / "grads.mmap"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--winnow", default=str(HERE.parent / ".build" / "release" / "winnow"))
    parser.add_argument("--rows", type=int, default=32768)
    parser.add_argument("--dim", type=int, default=8192)
    parser.add_argument("--dtype", default="f16", choices=["f16", "f32"], help="store dtype")
    parser.add_argument("--output", default=str(HERE / "import_results.json"))
    args = parser.parse_args()
    records = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        root = Path(tmp)
        for name, (source_args, data) in make_sources(root, args.rows, args.dim).items():
            size = data.stat().st_size
            read_bandwidth(data)  # warm the page cache, as for the import below
            read_s = min(read_bandwidth(data) for _ in range(3))
            store_bytes = size * (2 if args.dtype == "f32" else 1)
            write_s = write_bandwidth(root / "write-probe", store_bytes)
            store = root / f"store-{len(records)}"
            start = time.perf_counter()
            run = subprocess.run([args.winnow, "store", "import", *source_args, "--store", str(store),
                                  "--dtype", args.dtype], capture_output=True, text=True)
            import_s = time.perf_counter() - start
            if run.returncode != 0:
                raise SystemExit(f"{name}: {run.stderr}")
            shutil.rmtree(store)
            records.append({"format": name, "bytes": size, "read_GBps": size / read_s / 1e9,
                            "write_GBps": store_bytes / write_s / 1e9,
                            "import_GBps": size / import_s / 1e9, "import_s": import_s,
                            "ratio": read_s / import_s})
    result = {"rows": args.rows, "dim": args.dim, "source_dtype": "<f2", "store_dtype": args.dtype,
              "machine": f"{platform.machine()}, {os.cpu_count()} cpus", "records": records}
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"\n| source ({args.rows} × {args.dim} fp16, {records[0]['bytes'] / 2**20:.0f} MiB) "
          f"| read GB/s | write+fsync GB/s (store bytes) | import GB/s | import / read |\n|---|---|---|---|---|")
    for r in records:
        print(f"| {r['format']} | {r['read_GBps']:.2f} | {r['write_GBps']:.2f} | {r['import_GBps']:.2f} "
              f"| {r['ratio']:.2f} |")


if __name__ == "__main__":
    main()
