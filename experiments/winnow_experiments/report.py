"""Tables (CSV, markdown) and plots (PNG) from result records.

Confidence intervals are two-sided 95 % Student-t intervals of the mean over
seeds: ``mean ± t_{n−1} · sd / √n``.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict

# t_{0.975, df} for df = 1..30; larger df use 1.96.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df: int) -> float:
    return _T975[df - 1] if 1 <= df <= len(_T975) else 1.96


def summarize(records) -> list[dict]:
    """One row per (metric, strategy, fraction): n, mean, sd, ci95, in the
    order strategies first appear."""
    groups: dict = defaultdict(list)
    order: list = []
    for r in records:
        key = (r["metric"], r["strategy"], r["fraction"])
        if key not in groups:
            order.append(key)
        groups[key].append(r["value"])
    rows = []
    for metric, strategy, fraction in order:
        v = groups[(metric, strategy, fraction)]
        n = len(v)
        mean = sum(v) / n
        sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1)) if n > 1 else 0.0
        ci = t975(n - 1) * sd / math.sqrt(n) if n > 1 else float("nan")
        rows.append(dict(metric=metric, strategy=strategy, fraction=fraction, n=n,
                         mean=mean, sd=sd, ci95=ci))
    return rows


def write_csv(rows, path: str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["metric", "strategy", "fraction", "n", "mean", "sd", "ci95"])
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def _fmt(r) -> str:
    if math.isnan(r["ci95"]):
        return f"{r['mean']:.4g}"
    return f"{r['mean']:.4g} ± {r['ci95']:.2g}"


def markdown(rows, primary: str, lower_is_better: bool, reference: str = "random") -> str:
    """A strategy × fraction table of the primary metric, with the difference
    to ``reference`` at the same fraction, then the other metrics."""
    prim = [r for r in rows if r["metric"] == primary]
    ref = {r["fraction"]: r["mean"] for r in prim if r["strategy"] == reference}
    arrow = "lower is better" if lower_is_better else "higher is better"
    out = [f"**{primary}** ({arrow}); Δ = strategy − {reference} at the same fraction\n",
           f"| strategy | fraction | {primary} | Δ vs {reference} |",
           "|---|---:|---:|---:|"]
    for r in prim:
        d = f"{r['mean'] - ref[r['fraction']]:+.4f}" if r["fraction"] in ref and r["strategy"] != reference else ""
        out.append(f"| {r['strategy']} | {r['fraction']:g} | {_fmt(r)} | {d} |")
    others = sorted({r["metric"] for r in rows} - {primary})
    if others:
        out += ["", "| strategy | fraction | " + " | ".join(others) + " |",
                "|---|---:|" + "---:|" * len(others)]
        by = {(r["metric"], r["strategy"], r["fraction"]): r for r in rows}
        for r in prim:
            cells = [(_fmt(by[(m, r["strategy"], r["fraction"])])
                      if (m, r["strategy"], r["fraction"]) in by else "") for m in others]
            out.append(f"| {r['strategy']} | {r['fraction']:g} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def plot(rows, metric: str, lower_is_better: bool, path: str, title: str = "") -> None:
    """Metric against fraction, one line per strategy with 95 % CI bars;
    strategies run at a single fraction are drawn as points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = [r for r in rows if r["metric"] == metric]
    if not sel:
        return
    strategies = list(dict.fromkeys(r["strategy"] for r in sel))
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    if len({r["fraction"] for r in sel}) == 1:  # one fraction: a bar per strategy
        ys = [r["mean"] for r in sel]
        es = [0 if math.isnan(r["ci95"]) else r["ci95"] for r in sel]
        ax.bar(range(len(sel)), ys, yerr=es, capsize=4, color="C0", alpha=0.8)
        ax.set_xticks(range(len(sel)))
        ax.set_xticklabels([r["strategy"] for r in sel])
        lo = min(y - e for y, e in zip(ys, es))
        ax.set_ylim(bottom=max(0.0, lo - 0.1 * (max(ys) - lo + 1e-9)))
        ax.set_ylabel(f"{metric} ({'lower' if lower_is_better else 'higher'} is better)")
        ax.set_title(title)
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return
    for i, s in enumerate(strategies):
        pts = sorted((r["fraction"], r["mean"], 0 if math.isnan(r["ci95"]) else r["ci95"])
                     for r in sel if r["strategy"] == s)
        xs, ys, es = zip(*pts)
        style = dict(marker="os^vD<>phX*"[i % 11], capsize=3, label=s, lw=1.4)
        if s == "random":
            style.update(color="black", ls="--")
        ax.errorbar(xs, ys, yerr=es, **style)
    ax.set_xscale("log")
    fr = sorted({r["fraction"] for r in sel})
    ax.set_xticks(fr)
    ax.set_xticklabels([f"{f:g}" for f in fr])
    ax.set_xlabel("fraction of the pool trained on")
    ax.set_ylabel(f"{metric} ({'lower' if lower_is_better else 'higher'} is better)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
