#!/usr/bin/env python3
"""One command for every benchmark figure: builds Winnow and WinnowBench,
runs the Swift figures and the Python peers side by side, merges their
records into ``results.json`` and regenerates the table of ``README.md``.

    python3 Benchmarks/run.py            # the full run (make bench)
    python3 Benchmarks/run.py --smoke    # tiny sizes into a scratch folder

Records are ``{"name", "value", "unit", "vs", "ratio"}`` (plus an optional
``note``); ``ratio`` is ours / theirs in throughput terms (higher is better)
against the record named by ``vs``.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV_PYTHON = os.path.join(HERE, ".venv", "bin", "python")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

# (ours, peer, suffix): a derived record "<ours><suffix>" compares the two;
# same work unless the suffix's note below says otherwise.
NOTES = {
    "batch16.vs-trak": "what a LESS loop gets per call: Winnow keeps P cached across calls, "
                       "TRAK's BasicProjector regenerates it every call",
}
COMPARISONS = [
    ("sgemm.roofline.projection", "peer.numpy.sgemm.projection", ".vs-numpy"),
    *[(f"projection.dense.{k}.panels", f"peer.numpy.projection.{k}", ".vs-numpy")
      for k in ("rademacher", "gaussian")],
    *[(f"projection.dense.{k}.panels", f"peer.trak.projection.{k}", ".vs-trak")
      for k in ("rademacher", "gaussian")],
    *[(f"projection.dense.{k}.batch16", f"peer.trak.projection.{k}.batch16", ".vs-trak")
      for k in ("rademacher", "gaussian")],
    *[(f"projection.dense.{k}.lora", f"peer.numpy.projection.{k}.lora", ".vs-numpy")
      for k in ("rademacher", "gaussian")],
    *[(f"projection.dense.{k}.lora", f"peer.trak.projection.{k}.lora", ".vs-trak")
      for k in ("rademacher", "gaussian")],
    ("projection.dense.rademacher.first-call", "peer.trak.projection.rademacher", ".vs-trak"),
    ("projection.dense.gaussian.first-call", "peer.trak.projection.gaussian", ".vs-trak"),
    ("scoring.cosine.memory", "peer.numpy.less.cosine", ".vs-numpy"),
    ("scoring.influence.memory", "peer.numpy.influence", ".vs-numpy"),
    ("projection.sjlt.s1", "peer.scipy.sjlt.s1", ".vs-scipy"),
]

# (record, test, threshold, what): the targets set by the earlier issues.
TARGETS = [
    ("projection.dense.rademacher", "ratio>=", 0.8, "dense projection ≥ 80 % of the sgemm roofline"),
    ("projection.dense.gaussian", "ratio>=", 0.8, "dense projection ≥ 80 % of the sgemm roofline"),
    ("scoring.cosine.memory", "ratio>=", 0.8, "scoring ≥ 80 % of sgemm of the same shape"),
    ("projection.kronecker", "ratio>=", 100, "factored ≥ 100× dense of the materialized gradient"),
    ("selection.top5pct.10M", "value<", 0.5, "top-5 % of 10M under 0.5 s"),
    *[(f"engine.plan.{p}.1M", "value<", 1.0, f"epoch plan ({p}) for 1M under 1 s")
      for p in ("top5pct", "quota", "stochastic")],
    # issue 15: checksums verified while the store is read
    ("scoring.store.warm.verified", "ratio>=", 0.9, "verified store scoring ≥ 0.9× unverified"),
    ("scoring.cosine.store", "ratio>=", 0.9, "cold verified store scoring ≥ 0.9× cold read of the store"),
    ("diversity.blocked.1M", "value<", 120, "diversity (GREATS) 5 % of 1M at k = 1024 under 2 min"),
    ("diversity.objective.50k", "value>=", 0.99, "blocked GREATS objective ≥ 0.99 of sequential (50k)"),
    ("projection.sjlt.s1", "ratio>=", 0.5, "SJLT ≥ 0.5 of a plain read of the gradient"),
    ("projection.sjlt.s1.vs-dense", "ratio>=", 1000, "SJLT ≥ 1000× dense panels at D = 2^27, k = 8192"),
]


def log(msg):
    print(f"[run.py] {msg}", flush=True)


def sh(cmd, cwd=ROOT, env=None, check=True):
    log(" ".join(cmd))
    return subprocess.run(cmd, cwd=cwd, env=env, check=check)


def bench_env():
    """Both sides get the same BLAS threads (2 unless set)."""
    env = dict(os.environ)
    threads = env.get("OPENBLAS_NUM_THREADS", str(min(2, os.cpu_count() or 2)))
    env.update(OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    env.setdefault("WINNOW_LIBRARY", os.path.join(ROOT, ".build", "lib", "libwinnow.so"))
    return env


def build(config):
    sh(["swift", "build", "-c", config, "--product", "winnow"])
    sh(["swift", "build", "-c", config], cwd=HERE)
    sh(["make", "--no-print-directory", "lib"], check=False)  # libwinnow.so for the C ABI figures
    bin_root = subprocess.check_output(
        ["swift", "build", "-c", config, "--show-bin-path"], cwd=ROOT, text=True).strip()
    bench_root = subprocess.check_output(
        ["swift", "build", "-c", config, "--show-bin-path"], cwd=HERE, text=True).strip()
    return os.path.join(bin_root, "winnow"), os.path.join(bench_root, "WinnowBench")


def run_records(cmd, out, env, name, problems):
    """Runs one producer of records; a failure is reported, not fatal."""
    start = time.time()
    proc = sh(cmd + ["--output", out], cwd=HERE, env=env, check=False)
    log(f"{name}: {time.time() - start:.1f} s, exit {proc.returncode}")
    if proc.returncode != 0:
        problems.append(f"{name} exited with status {proc.returncode} (see its output above)")
    if not os.path.exists(out):
        return []
    with open(out) as f:
        return json.load(f)


def python_for_peers():
    return VENV_PYTHON if os.path.exists(VENV_PYTHON) else sys.executable


def trak_status():
    """(python, None) when TRAK imports, else (None, why)."""
    if not os.path.exists(VENV_PYTHON):
        return None, "no Benchmarks/.venv (make bench creates it with `pip install torch traker`)"
    probe = subprocess.run(
        [VENV_PYTHON, "-c", "import torch, trak.projectors; print(torch.__version__)"],
        capture_output=True, text=True)
    if probe.returncode != 0:
        return None, "`import torch, trak` fails in Benchmarks/.venv: " + probe.stderr.strip()[-300:]
    return VENV_PYTHON, None


def ratio(ours, unit, theirs):
    inverted = unit in ("s", "ms", "us", "ns", "bytes", "MiB")
    return theirs / ours if inverted else ours / theirs


def merge(records):
    """Adds the comparison records and (re)computes every ratio."""
    by_name = {r["name"]: r for r in records}
    for ours, peer, suffix in COMPARISONS:
        if ours in by_name and peer in by_name:
            o = by_name[ours]
            note = next((n for key, n in NOTES.items() if (ours + suffix).endswith(key)),
                        f"{ours} against {peer}, same work")
            records.append({"name": ours + suffix, "value": o["value"], "unit": o["unit"],
                            "vs": peer, "note": note})
    by_name = {r["name"]: r for r in records}
    for r in records:
        base = by_name.get(r.get("vs") or "")
        if base and base["value"] > 0 and r["value"] > 0:
            r["ratio"] = ratio(r["value"], r["unit"], base["value"])
        else:
            r.pop("ratio", None)
        r.setdefault("vs", None)
    return records


def environment_lines(seconds, smoke, trak_why, info):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    peers = subprocess.run(
        [python_for_peers(), "-c",
         "import numpy; print('numpy', numpy.__version__, end='')\n"
         "try:\n import torch, importlib.metadata as m; "
         "print(', torch', torch.__version__, ', traker', m.version('traker'), end='')\n"
         "except Exception: pass"],
        capture_output=True, text=True).stdout.strip()
    return [
        f"- Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- CPU: {cpu} ({os.cpu_count()} cores visible), {platform.machine()}, shared with other engineers",
        f"- OpenBLAS core type: {info.get('core', '?')}; threads: {info.get('threads', '?')}; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}",
        f"- Peers: {peers}" + ("" if not trak_why else f"; TRAK not run: {trak_why}"),
        f"- Command: `make bench{'-smoke' if smoke else ''}` — {seconds / 60:.1f} min in all",
    ]


def fmt(v):
    if v is None:
        return ""
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def table(records):
    rows = ["| figure | value | unit | vs | ratio | how |", "|---|---:|---|---|---:|---|"]
    for r in records:
        ratio_s = f"{r['ratio']:.2f}×" if r.get("ratio") is not None else ""
        rows.append(f"| `{r['name']}` | {fmt(r['value'])} | {r['unit']} | "
                    f"{'`' + r['vs'] + '`' if r.get('vs') else ''} | {ratio_s} | {r.get('note', '')} |")
    return rows


def targets(records):
    by_name = {r["name"]: r for r in records}
    rows = ["| target | figure | measured | met |", "|---|---|---:|---|"]
    for name, test, threshold, what in TARGETS:
        r = by_name.get(name)
        if r is None:
            rows.append(f"| {what} | `{name}` | not measured | TODO |")
            continue
        got = r.get("ratio") if test.startswith("ratio") else r["value"]
        if got is None:
            rows.append(f"| {what} | `{name}` | no ratio | TODO |")
            continue
        ok = got >= threshold if test.endswith(">=") else got < threshold
        shown = f"{got:.2f}×" if test.startswith("ratio") else f"{got:.3g} {r['unit']}"
        rows.append(f"| {what} | `{name}` | {shown} | {'yes' if ok else 'no'} |")
    return rows


def write_readme(path, records, env_lines, problems):
    body = [BEGIN, "", *env_lines, ""]
    if problems:
        body += ["Not measured in this run: " + "; ".join(problems) + ".", ""]
    body += ["### Targets", "", *targets(records), "", "### All figures", "", *table(records), "", END]
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + "\n".join(body) + rest.split(END, 1)[1]
    else:
        text = "# Winnow benchmarks\n\n" + "\n".join(body) + "\n" + text
    with open(path, "w") as f:
        f.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes; results go to --out-dir")
    p.add_argument("--out-dir", help="where results.json and README.md go "
                   "(default: Benchmarks/, or a temporary folder with --smoke)")
    p.add_argument("--debug", action="store_true", help="debug builds (quicker to build; smoke only)")
    p.add_argument("--only", help="comma-separated Swift areas (skips the peers not asked for)")
    args = p.parse_args()
    started = time.time()
    out_dir = args.out_dir or (tempfile.mkdtemp(prefix="winnow-bench-") if args.smoke else HERE)
    os.makedirs(out_dir, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="winnow-bench-scratch-")
    env = bench_env()
    winnow, bench = build("debug" if args.debug else "release")
    smoke = ["--smoke"] if args.smoke else []
    problems, records = [], []

    swift_cmd = [bench, *smoke, "--winnow", winnow, "--scratch", scratch]
    if args.only:
        swift_cmd += ["--only", args.only]
    records += run_records(swift_cmd, os.path.join(scratch, "swift.json"), env, "WinnowBench", problems)
    peer_python = python_for_peers()
    for script in ("numpy_projection.py", "numpy_less.py", "cabi_overhead.py", "scipy_sjlt.py"):
        if not os.path.exists(os.path.join(HERE, "peers", script)):
            continue
        records += run_records([peer_python, os.path.join("peers", script), *smoke],
                               os.path.join(scratch, script + ".json"), env, script, problems)
    trak_python, trak_why = trak_status()
    if trak_python:
        records += run_records([trak_python, os.path.join("peers", "trak_projector.py"), *smoke],
                               os.path.join(scratch, "trak.json"), env, "trak_projector.py", problems)
    records = merge(records)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(records, f, indent=2)
        f.write("\n")
    readme = os.path.join(out_dir, "README.md")
    if out_dir != HERE and not os.path.exists(readme) and os.path.exists(os.path.join(HERE, "README.md")):
        with open(os.path.join(HERE, "README.md")) as f, open(readme, "w") as g:
            g.write(f.read())
    info_path = os.path.join(scratch, "swift.json.env.json")
    info = json.load(open(info_path)) if os.path.exists(info_path) else {}
    lines = environment_lines(time.time() - started, args.smoke, trak_why, info)
    write_readme(readme, records, lines, problems)
    log(f"{len(records)} records in {out_dir}/results.json, {time.time() - started:.0f} s in all")
    if problems:
        log("problems: " + "; ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
