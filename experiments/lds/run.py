#!/usr/bin/env python3
"""Linear datamodeling score (LDS) of every Winnow score on ByteLM.

    python3 experiments/lds/run.py [--quick] [--out DIR] [--subsets M] [--seeds S] [--target cs]

1. A pool of texts (all domains) and a target set (held-out texts of one
   language); a base ByteLM trained on the whole pool.
2. At its final checkpoint, every method's per-sample score (``scores.py``)
   at every projection size ``k`` (Winnow's projectors and Curvature).
3. ``M`` random 50 % subsets; a model retrained on each from the base
   model's init, once per seed (the seed orders the batches); its target loss.
4. LDS = Spearman(Σ_{i∈S} score_i, −target loss) across subsets, mean over
   seeds, with a bootstrap-over-subsets 95 % interval (``metrics.py``).

Writes ``results.json``, ``table.csv``, ``table.md``, ``lds.png`` to ``--out``
(default ``experiments/lds/results/<full|quick>``). Needs the Winnow binding
(``WINNOW_LIBRARY``/``PYTHONPATH`` as in experiments/README.md); K-FAC rows
need a binding with ``winnow.Curvature`` and are skipped, with a message,
without one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict, dataclass, field

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import numpy as np  # noqa: E402

import lds_model as lm  # noqa: E402
import metrics  # noqa: E402
import report  # noqa: E402
import scores as sc  # noqa: E402


@dataclass
class Config:
    pool: int = 2000
    targets: int = 64
    target: str = "cs"
    hidden: int = 64
    max_len: int = 64
    epochs: int = 3          # base model and every retrain (a subset gets half the steps)
    subsets: int = 100
    seeds: int = 3
    ks: list = field(default_factory=lambda: [64, 256, 1024, sc.FULL])
    damping: float = 0.1
    bootstrap: int = 1000
    subset_seed: int = 777
    # damping sensitivity of the curvature methods (LDS re-used, no retraining)
    sweep_dampings: list = field(default_factory=lambda: [0.001, 0.01, 0.1, 1.0, 10.0, 100.0])
    sweep_ks: list = field(default_factory=lambda: [256, sc.FULL])

    @classmethod
    def quick(cls) -> "Config":
        return cls(pool=400, targets=16, epochs=2, subsets=24, seeds=2, ks=[64, 256, sc.FULL],
                   bootstrap=200, sweep_dampings=[0.01, 1.0], sweep_ks=[sc.FULL])


def subset_masks(n: int, m: int, seed: int) -> np.ndarray:
    """``m × n`` boolean masks, each exactly ``n // 2`` texts."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((m, n), bool)
    for j in range(m):
        masks[j, rng.choice(n, n // 2, replace=False)] = True
    return masks


def retrain_losses(task, masks, seeds, epochs, log=print) -> np.ndarray:
    """``seeds × M × T`` per-target-text losses of models retrained on each
    subset (init 0, the base model's; seed ``s`` orders the batches); their
    mean over ``T`` is the target loss."""
    out = np.empty((seeds, len(masks), len(task.target_X)))
    t = time.time()
    for s in range(seeds):
        for j, mask in enumerate(masks):
            model, _ = lm.train(task, np.flatnonzero(mask), init_seed=0, order_seed=s,
                                epochs=epochs)
            out[s, j] = lm.target_losses(model, task)
        log(f"  seed {s}: {len(masks)} retrains, {time.time() - t:.0f} s")
    return out


def run(cfg: Config, out: str, log=print, plot: bool = True) -> tuple[list[dict], dict, str]:
    t0 = time.time()
    w = sc.load_winnow()
    task = lm.make_task(cfg.pool, cfg.targets, cfg.target, cfg.max_len, cfg.hidden)
    log(f"pool {cfg.pool} (target-domain share {np.mean(task.pool_domain == _dom(cfg.target)):.3f})"
        f", {cfg.targets} `{cfg.target}` targets; winnow {w.version()}")
    base, opt = lm.train(task, None, init_seed=0, order_seed=1000, epochs=cfg.epochs)
    log(f"base model: target loss {lm.target_loss(base, task):.4f} nats/byte")
    t = time.time()
    S = sc.Scores(w, cfg.ks, cfg.damping, log=log)
    scores = S.compute(base, task, opt)
    rnd = np.random.default_rng(99).normal(size=(cfg.pool, cfg.targets + 1)).astype(np.float32)
    scores[("random", sc.FULL)] = rnd[:, -1]
    S.per_target[("random", sc.FULL)] = rnd[:, :-1]
    # a reference that uses the domain labels no method gets: 1 for the pool's target-domain texts
    oracle = (task.pool_domain == _dom(cfg.target)).astype(np.float32)
    scores[("domain-oracle", sc.FULL)] = oracle
    S.per_target[("domain-oracle", sc.FULL)] = np.repeat(oracle[:, None], cfg.targets, 1)
    t_scores = time.time() - t
    log(f"scores: {len(scores)} (method, k) in {t_scores:.0f} s")

    masks = subset_masks(cfg.pool, cfg.subsets, cfg.subset_seed)
    t = time.time()
    per_text = retrain_losses(task, masks, cfg.seeds, cfg.epochs, log)
    losses = per_text.mean(2)
    t_retrain = time.time() - t

    rows = lds_rows(scores, masks, losses, cfg.bootstrap)
    for r in rows:
        r.update(per_example(masks, S.per_target[(r["method"], r["k"])], per_text))
        base_key = ("dot", r["k"]) if ("dot", r["k"]) in scores else ("dot", sc.FULL)
        if r["method"] != "dot" and base_key in scores:
            d, lo, hi = metrics.bootstrap_diff(metrics.predicted_effects(masks, scores[(r["method"], r["k"])]),
                                               metrics.predicted_effects(masks, scores[base_key]),
                                               losses, cfg.bootstrap)
            r.update(vs_dot=d, vs_dot_low=lo, vs_dot_high=hi)
        if r["method"] == "random":
            # the floor over many random score vectors, not the one drawn above
            r["lds"], r["ci_low"], r["ci_high"] = metrics.random_null(masks, losses)
            r["random_draws"] = 200
    t = time.time()
    sweep = damping_sweep(cfg, w, base, opt, task, masks, losses, rows, log)
    t_sweep = time.time() - t
    meta = {**asdict(cfg), "seed_ceiling": metrics.seed_ceiling(losses),
            "per_example_seed_ceiling": metrics.per_example_ceiling(per_text),
            "winnow": w.version(), "curvature": S.has_curvature,
            "base_target_loss": lm.target_loss(base, task),
            "target_share": float(np.mean(task.pool_domain == _dom(cfg.target))),
            "loss_sd_across_subsets": float(losses.std(1).mean()),
            "seconds_scores": t_scores, "seconds_retrain": t_retrain, "seconds_sweep": t_sweep,
            "seconds": time.time() - t0}
    md = report.write(out, rows, meta, losses.tolist(), plot=plot)
    md += "\n\n" + report.write_sweep(out, sweep, meta)
    return rows, meta, md


SWEPT = ("trak", "kfac", "kfac-eig", "ekfac")


def per_example(masks, per_target, per_text) -> dict:
    """The per-example LDS (each target text's own loss and scores), mean and
    95 % t-interval over the target texts."""
    v = metrics.per_example_lds(masks, per_target, per_text)
    mean, lo, hi = metrics.t_interval(v)
    return {"per_example_lds": mean, "per_example_ci_low": lo, "per_example_ci_high": hi}


def lds_rows(scores, masks, losses, reps, **extra) -> list[dict]:
    rows = []
    for (method, k), s in scores.items():
        if not np.all(np.isfinite(s)):
            raise RuntimeError(f"{method} at k={k}: non-finite scores")
        pred = metrics.predicted_effects(masks, s)
        rows.append({"method": method, "k": k, **extra,
                     **metrics.summarize(pred, losses, reps)})
    return rows


def damping_sweep(cfg, w, base, opt, task, masks, losses, rows, log) -> list[dict]:
    """LDS of TRAK and the curvature methods at other dampings (the same
    retrained models; only the scores change). The main table's damping
    (``cfg.damping``) is copied in from ``rows``."""
    out = [dict(r, damping=cfg.damping) for r in rows
           if r["method"] in SWEPT and r["k"] in cfg.sweep_ks]
    for lam in cfg.sweep_dampings:
        if lam == cfg.damping:
            continue
        S = sc.Scores(w, cfg.sweep_ks, lam, log=lambda *a: None, per_target=False, only=SWEPT)
        s = {key: v for key, v in S.compute(base, task, opt).items() if key[0] in SWEPT}
        out += lds_rows(s, masks, losses, cfg.bootstrap, damping=lam)
        log(f"damping {lam:g}: done")
    return out


def _dom(name: str) -> int:
    from winnow_experiments import data  # noqa: PLC0415
    return data.load_corpus().domain_index(name)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes (under a minute)")
    p.add_argument("--out", help="results folder (default experiments/lds/results/<full|quick>)")
    p.add_argument("--subsets", type=int, help="number of random 50 %% subsets M")
    p.add_argument("--seeds", type=int, help="retraining seeds per subset")
    p.add_argument("--target", help="target domain (see experiments/run.py --list-domains)")
    a = p.parse_args(argv)
    cfg = Config.quick() if a.quick else Config()
    for name in ("subsets", "seeds", "target"):
        if getattr(a, name) is not None:
            setattr(cfg, name, getattr(a, name))
    out = a.out or os.path.join(HERE, "results", "quick" if a.quick else "full")
    try:
        import matplotlib  # noqa: F401
        plot = True
    except ImportError:
        print("matplotlib missing (pip install matplotlib): no plot", file=sys.stderr)
        plot = False
    rows, meta, md = run(cfg, out, plot=plot)
    print(f"\n{md}\n\nwritten to {out} ({meta['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
