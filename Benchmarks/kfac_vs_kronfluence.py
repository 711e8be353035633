"""K-FAC / EK-FAC influence: Winnow's Curvature against kronfluence 1.0.1
(issue #16, DESIGN 2.9), on the two small models of
``bindings/python/tests/kronfluence_peer.py`` (an MLP classifier and a
2-block causal transformer LM with ragged sequences).

Reported per model:

* **the correlation-vs-k curve**: the fit's whitened factors
  (``Curvature.whiten``, factored damping) projected by a
  ``FactoredProjector`` with ``k_in = k_out = k`` per layer (clipped at the
  layer's dims), query x train dot products, Pearson / Spearman against
  kronfluence's ``kfac`` and ``ekfac`` scores (heuristic damping
  ``0.1 * mean(Lambda)``), against kronfluence ``kfac`` at damping 1e-8 and
  against the same whitened gradients unprojected (the projection's own
  loss), averaged over ``--seeds`` projector seeds (min also stored). The
  unprojected whitened gradients (``k = full``) and the exact eigenbasis
  features (``Curvature.features``, ``kfac`` / ``ekfac``) are the ceilings.
* **times side by side**: kronfluence's ``fit_all_factors`` and
  ``compute_pairwise_scores`` against Winnow's fit (hook capture of the fit
  set + ``accumulate`` + ``fit`` [+ ``accumulate_corrections``]) and scoring
  (hook capture of train and query + features or whiten + project + one
  float32 matrix product); the library-only part is given too (Winnow: the best of
  ``--repeats``; kronfluence: one run, its file output included). Wall seconds and this
  process's CPU seconds (one thread: on an idle machine they agree; the CPU
  figure stays meaningful on a shared one).

Writes ``Benchmarks/results/kfac_vs_kronfluence.json`` and prints markdown
tables.

Usage::

    WINNOW_LIBRARY=.../libwinnow.so PYTHONPATH=.../python \\
        .venv-torch/bin/python Benchmarks/kfac_vs_kronfluence.py [--threads 1] \\
        [--seeds 3] [--ks 2,4,8,16,32] [--dampings 0.1,1e-4] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

# NumPy's own BLAS (the score matrix products) on one thread unless told
# otherwise: this machine is shared, and a spinning pool distorts every time.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "bindings" / "python" / "tests"))
try:
    import winnow
except ImportError:  # no PYTHONPATH: the repository's binding
    sys.path.append(str(ROOT / "bindings" / "python"))
    import winnow

import kronfluence  # noqa: E402
import kronfluence_peer as kp  # noqa: E402

SMALL_KRONFLUENCE_DAMPING = 1e-8


class Clock:
    """Wall and CPU seconds of a block; ``best`` keeps the fastest of several."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def best(repeats, body):
    """Runs ``body()`` ``repeats`` times; returns its last value and the
    fastest ``(wall, cpu)``."""
    times = []
    for _ in range(repeats):
        with Clock() as clock:
            value = body()
        times.append((clock.wall, clock.cpu))
    return value, min(times)


def agreement(scores, references):
    return ({name: kp.pearson(scores, ref) for name, ref in references.items()},
            {name: kp.spearman(scores, ref) for name, ref in references.items()})


def whitened_gradients(counts, pairs):
    return np.concatenate([kp.per_sample_gradients(counts, a, d).reshape(len(counts), -1)
                           for a, d in pairs], 1)


def run_model(config, ks, seeds, dampings, repeats):
    result = {"model": config.kind, "config": {k: v for k, v in vars(config).items()
                                                if k != "extra"}}
    with Clock() as build:
        peer = kp.build(config)
    result["build_s"] = build.wall
    result["train_loss"] = [peer.train_loss[0], peer.train_loss[-1]]
    layers = peer.layers()
    result["layers"] = [{"id": i, "name": n, "d_in": a, "d_out": b}
                        for (i, a, b), n in zip(layers, peer.module_names)]
    result["samples"] = {"fit": len(peer.fit), "train": len(peer.train),
                         "query": len(peer.query)}

    # kronfluence
    kron, times = {}, {}
    scores, times["kronfluence kfac"] = kp.run_kronfluence(
        peer, "kfac", dampings=(None, SMALL_KRONFLUENCE_DAMPING))
    kron["kfac"], kron["kfac@1e-8"] = scores[None], scores[SMALL_KRONFLUENCE_DAMPING]
    scores, times["kronfluence ekfac"] = kp.run_kronfluence(peer, "ekfac")
    kron["ekfac"] = scores[None]

    # Winnow: the factors (fit = train here, so captured once), then the fit.
    with Clock() as capture_train:
        train = kp.capture(peer, peer.train)[:2]
    with Clock() as capture_query:
        query = kp.capture(peer, peer.query)[:2]
    result["tokens"] = {"fit": int(np.sum(train[0])), "query": int(np.sum(query[0]))}
    def fitted():
        curv = winnow.Curvature(layers)
        curv.accumulate(*train)
        curv.fit()
        return curv

    def corrected():
        curv = fitted()
        curv.accumulate_corrections(*train)
        return curv

    _, fit = best(repeats, fitted)
    curv, fit_corrected = best(repeats, corrected)
    capture_scored = (capture_train.wall + capture_query.wall,
                      capture_train.cpu + capture_query.cpu)

    def winnow_times(library_fit, library_score):
        """Fit and score times, with and without the hook capture."""
        return {"fit_s": capture_train.wall + library_fit[0],
                "fit_cpu_s": capture_train.cpu + library_fit[1],
                "score_s": capture_scored[0] + library_score[0],
                "score_cpu_s": capture_scored[1] + library_score[1],
                "library_fit_s": library_fit[0], "library_score_s": library_score[0]}

    rows = []
    for method in ("kfac", "ekfac"):
        def features():
            f_q = curv.features(*query, method=method, damping=0.1)
            f_t = curv.features(*train, method=method, damping=0.1)
            return f_q, f_q @ f_t.T
        (f_q, scores), score = best(repeats, features)
        scores = scores.astype(np.float64)
        times[f"winnow features {method}"] = winnow_times(
            fit_corrected if method == "ekfac" else fit, score)
        pearson, spearman = agreement(scores, kron)
        rows.append({"path": f"features {method}", "damping": 0.1, "k": "full",
                     "feature_dim": int(f_q.shape[1]), "pearson": pearson,
                     "spearman": spearman, "scale_vs_kronfluence":
                         kp.scale(scores, kron[method])})

    for damping in dampings:
        (w_q, w_t), whiten = best(repeats, lambda: (curv.whiten(*query, damping=damping),
                                                    curv.whiten(*train, damping=damping)))
        g_q, g_t = whitened_gradients(query[0], w_q), whitened_gradients(train[0], w_t)
        unprojected = g_q @ g_t.T
        pearson, spearman = agreement(unprojected, kron)
        cosine = unprojected / np.outer(np.linalg.norm(g_q, axis=1), np.linalg.norm(g_t, axis=1))
        rows.append({"path": "whiten, unprojected", "damping": damping, "k": "full",
                     "feature_dim": int(g_q.shape[1]), "pearson": pearson,
                     "spearman": spearman,
                     "median_abs_cosine_query_train": float(np.median(np.abs(cosine)))})
        references = dict(kron, unprojected=unprojected)
        for k in ks:
            spec = [(i, a, b, min(k, a), min(k, b)) for i, a, b in layers]
            per_seed, seconds = [], []
            for seed in range(seeds):
                projector = winnow.FactoredProjector(spec, seed=seed)

                def project():
                    p_q = projector.project(query[0], w_q)
                    p_t = projector.project(train[0], w_t)
                    return p_q @ p_t.T
                scores, score = best(repeats, project)
                scores = scores.astype(np.float64)
                seconds.append(score)
                per_seed.append(agreement(scores, references))
            row = {"path": "whiten + FactoredProjector", "damping": damping, "k": k,
                   "feature_dim": projector.feature_dim, "seeds": seeds}
            for i, key in enumerate(("pearson", "spearman")):
                row[key] = {name: float(np.mean([s[i][name] for s in per_seed]))
                            for name in references}
                row[key + "_min"] = {name: float(np.min([s[i][name] for s in per_seed]))
                                     for name in references}
            rows.append(row)
            if damping == dampings[0]:
                wall, cpu = np.mean(seconds, 0)
                times[f"winnow whiten+project k={k}"] = winnow_times(
                    fit, (whiten[0] + wall, whiten[1] + cpu))
    result["curve"] = rows
    result["times"] = times
    return result


def fmt(value, digits=4):
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown(results):
    lines = ["| model | path | damping | k | dim | P kfac | S kfac | P ekfac | S ekfac | "
             "P kfac@1e-8 | S kfac@1e-8 | P unprojected | S unprojected |", "|" + "---|" * 13]
    for r in results:
        for row in r["curve"]:
            p, s = row["pearson"], row["spearman"]
            lines.append(f"| {r['model']} | {row['path']} | {row['damping']:g} | {row['k']} | "
                         f"{row['feature_dim']} | {fmt(p['kfac'])} | {fmt(s['kfac'])} | "
                         f"{fmt(p['ekfac'])} | {fmt(s['ekfac'])} | {fmt(p['kfac@1e-8'])} | "
                         f"{fmt(s['kfac@1e-8'])} | {fmt(p.get('unprojected', ''))} | "
                         f"{fmt(s.get('unprojected', ''))} |")
    lines += ["", "| model | method | fit s (cpu s) | score s (cpu s) | library only: fit s, "
              "score s |", "|" + "---|" * 5]
    for r in results:
        for name, t in r["times"].items():
            library = (f"{t['library_fit_s']:.4f}, {t['library_score_s']:.4f}"
                       if "library_fit_s" in t else "")
            lines.append(f"| {r['model']} | {name} | {t['fit_s']:.3f} ({t['fit_cpu_s']:.3f}) | "
                         f"{t['score_s']:.3f} ({t['score_cpu_s']:.3f}) | {library} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3,
                        help="Winnow's library calls: the best of this many runs")
    parser.add_argument("--ks", default="2,4,8,16,32")
    parser.add_argument("--dampings", default="0.1,1e-4",
                        help="whiten dampings (relative); the first one is timed")
    parser.add_argument("--models", default="mlp,transformer")
    parser.add_argument("--output", default=str(ROOT / "Benchmarks" / "results" /
                                                "kfac_vs_kronfluence.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if hasattr(winnow, "set_blas_threads"):
        winnow.set_blas_threads(args.threads)
    ks = [int(k) for k in args.ks.split(",")]
    dampings = [float(d) for d in args.dampings.split(",")]
    configs = {"mlp": kp.MLP_CONFIG, "transformer": kp.TRANSFORMER_CONFIG}
    results = [run_model(replace(configs[name]), ks, args.seeds, dampings, args.repeats)
               for name in args.models.split(",")]
    report = {
        "benchmark": "kfac_vs_kronfluence",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "threads": args.threads},
        "versions": {"winnow": winnow.version(), "torch": torch.__version__,
                     "kronfluence": kronfluence.__version__, "numpy": np.__version__},
        "notes": ("kronfluence: empirical Fisher, sum-reduced losses, damping 0.1*mean(Lambda) "
                  "unless named; Winnow whiten uses factored damping l_X = damping*mean(e_X), "
                  "features use kronfluence's rule. Correlations are over all query x train "
                  "pairs; projected rows are means over projector seeds (*_min: the worst)."),
        "models": results,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(results))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
