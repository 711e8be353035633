"""The LDS results: JSON, CSV, a markdown table and a plot."""

from __future__ import annotations

import csv
import json
import os

ORDER = ["random", "grad-norm", "domain-oracle", "cosine", "less", "dot", "trak", "kfac", "kfac-eig", "ekfac"]
ABOUT = {
    "random": "floor: random scores",
    "grad-norm": "floor: ‖g_i‖ (Winnow's grad-norm score)",
    "domain-oracle": "reference: 1 for target-domain texts (uses labels no method gets)",
    "cosine": "cos(φ_i, mean target φ), plain gradients (winnow.Scorer)",
    "less": "LESS: cos(Adam feature of g_i, mean target φ) (winnow.Scorer)",
    "dot": "φ_i · mean target φ (winnow.Scorer)",
    "trak": "φ_tᵀ(ΦᵀΦ+λI)⁻¹φ_i, NumPy",
    "kfac": "K-FAC, factored damping: Curvature.whiten → FactoredProjector",
    "kfac-eig": "K-FAC, eigenbasis damping: Curvature.features(kfac) → Projector",
    "ekfac": "EK-FAC: Curvature.features(ekfac) → Projector",
}


def k_label(k: int) -> str:
    return "full" if k == 0 else str(k)


def rows_in_order(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (ORDER.index(r["method"]) if r["method"] in ORDER else 99,
                                       r["k"] if r["k"] else 1 << 30))


def write(out: str, rows: list[dict], meta: dict, losses, plot: bool = True) -> str:
    """Writes ``results.json``, ``table.csv``, ``table.md`` (returned) and ``lds.png``."""
    os.makedirs(out, exist_ok=True)
    rows = rows_in_order(rows)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows, "target_losses": losses}, f, indent=1)
    with open(os.path.join(out, "table.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "k", "lds", "ci95_low", "ci95_high", "lds_seed_mean_loss",
                    "per_seed", "per_example_lds", "per_example_ci95_low",
                    "per_example_ci95_high", "vs_dot", "vs_dot_ci95_low", "vs_dot_ci95_high"])
        for r in rows:
            w.writerow([r["method"], k_label(r["k"]), f"{r['lds']:.4f}", f"{r['ci_low']:.4f}",
                        f"{r['ci_high']:.4f}", f"{r['lds_seed_mean_loss']:.4f}",
                        " ".join(f"{v:.4f}" for v in r["per_seed"]),
                        f"{r['per_example_lds']:.4f}", f"{r['per_example_ci_low']:.4f}",
                        f"{r['per_example_ci_high']:.4f}", f"{r.get('vs_dot', float('nan')):.4f}",
                        f"{r.get('vs_dot_low', float('nan')):.4f}",
                        f"{r.get('vs_dot_high', float('nan')):.4f}"])
    md = table_md(rows, meta)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(md + "\n")
    if plot:
        plot_lds(os.path.join(out, "lds.png"), rows, meta)
    return md


def table_md(rows: list[dict], meta: dict) -> str:
    lines = ["| method | k | LDS, target set (mean over seeds) | 95 % CI (bootstrap over subsets) "
             "| Δ vs dot, same k (paired 95 % CI) | LDS vs seed-mean loss "
             "| per-example LDS (95 % t-CI over target texts) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        vs = (f"{r['vs_dot']:+.3f} [{r['vs_dot_low']:+.3f}, {r['vs_dot_high']:+.3f}]"
              if "vs_dot" in r else "")
        lines.append(f"| {r['method']} | {k_label(r['k'])} | {r['lds']:.3f} | "
                     f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {vs} | "
                     f"{r['lds_seed_mean_loss']:.3f} | "
                     f"{r['per_example_lds']:.3f} [{r['per_example_ci_low']:.3f}, "
                     f"{r['per_example_ci_high']:.3f}] |")
    lines.append("")
    lines.append("`random`: mean and central 95 % of the LDS of 200 random score vectors "
                 "(its other columns: one draw). Floors are compared with `dot` at full size.")
    lines.append(f"Seed-to-seed Spearman of the measured losses (noise ceiling): "
                 f"{meta['seed_ceiling']:.3f} for the target set, "
                 f"{meta['per_example_seed_ceiling']:.3f} per target text (mean). "
                 f"{meta['subsets']} subsets × {meta['seeds']} "
                 f"seeds, pool {meta['pool']}, target `{meta['target']}` "
                 f"({meta['targets']} texts); {meta['seconds']:.0f} s.")
    return "\n".join(lines)


def plot_lds(path: str, rows: list[dict], meta: dict) -> None:
    import matplotlib  # noqa: PLC0415
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    ks = sorted({r["k"] for r in rows if r["k"]}) + [0]
    xs = {k: i for i, k in enumerate(ks)}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    panels = [("lds", "ci_low", "ci_high", "seed_ceiling",
               "target-set LDS (95 % bootstrap CI over subsets)"),
              ("per_example_lds", "per_example_ci_low", "per_example_ci_high",
               "per_example_seed_ceiling", "per-example LDS (95 % t-CI over target texts)")]
    for ax, (key, lo_key, hi_key, ceil_key, title) in zip(axes, panels):
        for i, m in enumerate(ORDER):
            rs = [r for r in rows if r["method"] == m]
            if not rs:
                continue
            if m in ("random", "grad-norm", "domain-oracle"):
                r = rs[0]
                color = {"random": "gray", "grad-norm": "brown", "domain-oracle": "green"}[m]
                ax.axhline(r[key], ls=":", color=color, lw=1.2, label=f"{m} ({r[key]:.2f})")
                continue
            rs = sorted(rs, key=lambda r: xs[r["k"]])
            x = [xs[r["k"]] + (i - 6) * 0.04 for r in rs]
            y = [r[key] for r in rs]
            err = [[r[key] - r[lo_key] for r in rs], [r[hi_key] - r[key] for r in rs]]
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=m)
        c = meta.get(ceil_key, float("nan"))
        if c == c:  # not nan
            ax.axhline(c, ls="--", color="black", lw=1, label=f"seed-to-seed ({c:.2f})")
        ax.set_xticks(range(len(ks)), [k_label(k) for k in ks])
        ax.set_xlabel("projection size k")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, ncol=2, loc="lower right")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Spearman, mean over retraining seeds")
    fig.suptitle(f"LDS on ByteLM, target {meta['target']}: {meta['subsets']} random 50 % "
                 f"subsets × {meta['seeds']} seeds, damping {meta['damping']:g}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_sweep(out: str, rows: list[dict], meta: dict) -> str:
    """``damping.json``, ``damping.csv``, ``damping.md`` (returned): LDS of each
    (method, k) at each damping; empty string when there is nothing swept."""
    if not rows:
        return ""
    rows = sorted(rows_in_order(rows), key=lambda r: (ORDER.index(r["method"]),
                                                      r["k"] or 1 << 30, r["damping"]))
    with open(os.path.join(out, "damping.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(out, "damping.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "k", "damping", "lds", "ci95_low", "ci95_high",
                    "lds_seed_mean_loss"])
        for r in rows:
            w.writerow([r["method"], k_label(r["k"]), r["damping"], f"{r['lds']:.4f}",
                        f"{r['ci_low']:.4f}", f"{r['ci_high']:.4f}",
                        f"{r['lds_seed_mean_loss']:.4f}"])
    dampings = sorted({r["damping"] for r in rows})
    cells = {(r["method"], r["k"], r["damping"]): r for r in rows}
    keys = list(dict.fromkeys((r["method"], r["k"]) for r in rows))
    lines = ["| method | k | " + " | ".join(f"damping {d:g}" for d in dampings) + " |",
             "|---|---:|" + "---:|" * len(dampings)]
    for m, k in keys:
        vals = []
        for d in dampings:
            r = cells.get((m, k, d))
            vals.append("" if r is None else
                        f"{r['lds']:.3f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]")
        lines.append(f"| {m} | {k_label(k)} | " + " | ".join(vals) + " |")
    lines += ["", f"Target-set LDS (mean over seeds) [95 % bootstrap CI]; damping "
              f"{meta['damping']:g} is the main table's. λ is relative: damping × mean Gram "
              "diagonal (trak), × mean eigenvalue of each factor (kfac) or of Λ "
              "(kfac-eig, ekfac). The same retrained models for every column."]
    md = "\n".join(lines)
    with open(os.path.join(out, "damping.md"), "w") as f:
        f.write(md + "\n")
    return md
