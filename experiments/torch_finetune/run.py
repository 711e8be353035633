#!/usr/bin/env python3
"""LESS-style targeted selection for a PyTorch transformer, through
``winnow.torch`` (hook features in one batched backward, the engine, the
plan sampler), against random selection at the same budget.

    make torch-example                 # creates .venv-torch, builds libwinnow, runs this
    .venv-torch/bin/python experiments/torch_finetune/run.py [--smoke] [--seeds N]
        [--target cs] [--out DIR] [--threads N]

Per seed: a byte-level transformer (``model.py``) warms up with AdamW on a
random 5 % of a pool of fortunes (all domains). After each warm-up epoch (a
checkpoint) ``FactoredFeatures`` captures every pool text's and every target
text's ``nn.Linear`` factors from one batched backward per 64 texts, and two
Winnow engines take them: ``less`` (the factored plain-gradient features,
projected inside libwinnow) and ``less-adam`` (LESS's exact Adam features
from the same captures, materialized). Each picks 5 % of the pool; a fresh
model from the same initialization trains on each selection and on a random
5 % for the same number of steps, drawing batches with ``PlanSampler``.
Metric: bits per byte on held-out target-domain texts. The throughput of
feature extraction (hooks + one batched backward vs a per-example backward
loop, LESS's way) is measured on the warmed-up model of the first seed.

Writes ``results.json`` and ``table.md`` to ``--out`` (default
``experiments/torch_finetune/results``; ``--smoke`` runs tiny sizes into a
temporary folder unless ``--out`` is given).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(ROOT, "experiments"), os.path.join(ROOT, "bindings", "python")]

import numpy as np  # noqa: E402
import torch  # noqa: E402

import winnow  # noqa: E402
from winnow.torch import FactoredFeatures, PlanSampler, plan_loader  # noqa: E402
from winnow_experiments import report  # noqa: E402
from winnow_experiments.data import encode_bytes, load_corpus  # noqa: E402
from winnow_experiments.e1_targeted import make_split  # noqa: E402

import model as M  # noqa: E402

SIZES = {
    "full": dict(pool=6000, max_len=96, n_val=32, n_test=400, warmup_fraction=0.05,
                 warmup_epochs=3, steps=250, batch=32, lr=2e-3, d=64, layers=2, k_in=8, k_out=8,
                 fraction=0.05, feature_batch=64, throughput_texts=64),
    "smoke": dict(pool=240, max_len=32, n_val=6, n_test=24, warmup_fraction=0.2,
                  warmup_epochs=1, steps=6, batch=8, lr=2e-3, d=32, layers=1, k_in=4, k_out=4,
                  fraction=0.1, feature_batch=32, throughput_texts=8),
}


def log(*a, **kw):
    print(*a, flush=True, **kw)


def train(model, loader, optimizer, steps: int, first_epoch: int = 0) -> None:
    """``steps`` AdamW steps on the plan-weighted mean of per-sample losses,
    drawing epochs ``first_epoch, first_epoch + 1, ...`` of ``loader``."""
    step, epoch = 0, first_epoch
    while step < steps:
        loader.set_epoch(epoch)
        for (x, mask), weights, _ in loader:
            losses = M.sample_losses(model, x, mask)
            loss = (weights.to(losses.device) * losses).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if step == steps:
                return
        epoch += 1


def adamw(model, size):
    return torch.optim.AdamW(model.parameters(), lr=size["lr"], weight_decay=0.0)


class Dataset(torch.utils.data.Dataset):
    def __init__(self, x, mask):
        self.x, self.mask = x, mask

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):
        return self.x[i], self.mask[i]


def feed_checkpoint(fx, engines, epoch, optimizer, lr, pool, val, size):
    """One checkpoint: target rows, then every pool text, into both engines."""
    (xp, mp), (xv, mv) = pool, val
    for e in engines.values():
        e.begin_epoch(epoch, lr)
    cap = fx.capture(M.sample_losses, fx.model, xv, mv, mask=mv)
    engines["less"].add_target_factors(0, fx.projector, cap.token_counts, cap.factors)
    engines["less-adam"].add_target(0, fx.project(cap))  # targets: plain gradients
    b = size["feature_batch"]
    for i in range(0, xp.shape[0], b):
        ids = np.arange(i, min(i + b, xp.shape[0]))
        cap = fx.capture(M.sample_losses, fx.model, xp[i:i + b], mp[i:i + b], mask=mp[i:i + b])
        engines["less"].add_candidate_factors(ids, fx.projector, cap.token_counts,
                                              cap.factors, losses=cap.losses)
        engines["less-adam"].add_candidates(ids, fx.adam_features(cap, optimizer),
                                            losses=cap.losses)
    return {name: e.end_epoch() for name, e in engines.items()}


def run_seed(seed, size, data, device, timings):
    (xp, mp), (xv, mv), (xt, mt), pool_domain, target_ix = data
    n = xp.shape[0]
    torch.manual_seed(seed)
    init = M.ByteTransformer(d=size["d"], layers=size["layers"], max_len=size["max_len"] + 1)
    init.to(device)
    dataset = Dataset(xp, mp)
    sampler = PlanSampler(n, domains=pool_domain, seed=seed)

    # Warm-up on a random subset; features and engine epochs at each checkpoint.
    rng = np.random.default_rng(seed)
    warm_ids = rng.choice(n, int(round(size["warmup_fraction"] * n)), replace=False)
    model = M.ByteTransformer(d=size["d"], layers=size["layers"], max_len=size["max_len"] + 1)
    model.load_state_dict(init.state_dict())
    model.to(device)
    fx = FactoredFeatures(model, k_in=size["k_in"], k_out=size["k_out"], seed=seed)
    keep = size["fraction"]
    engines = {name: winnow.Engine(np.arange(n), pool_domain, feature_dim=fx.feature_dim,
                                   select_fraction=keep, seed=seed)
               for name in ("less", "less-adam")}
    plans = {}
    t0 = time.perf_counter()

    def checkpoint(epoch, optimizer):
        t = time.perf_counter()
        plans.update(feed_checkpoint(fx, engines, epoch, optimizer, size["lr"], (xp, mp),
                                     (xv, mv), size))
        seconds = time.perf_counter() - t
        timings.setdefault("checkpoint_features_s", []).append(seconds)
        log(f"  seed {seed} checkpoint {epoch}: features of {n} pool + {xv.shape[0]} target "
            f"texts into 2 engines in {seconds:.0f} s")

    sampler.set_plan(ids=warm_ids)
    loader = plan_loader(dataset, sampler, batch_size=size["batch"])
    optimizer = adamw(model, size)
    for epoch in range(size["warmup_epochs"]):
        train(model, loader, optimizer, len(loader), first_epoch=epoch)
        checkpoint(epoch, optimizer)
    timings.setdefault("warmup_total_s", []).append(time.perf_counter() - t0)
    if seed == timings.get("throughput_seed"):
        timings["throughput"] = throughput(fx, model, (xp, mp), size)

    # Selections at the same budget, each trained from the same init.
    budget = plans["less"].ids.size
    selections = {"random": (np.sort(rng.choice(n, budget, replace=False)), None)}
    for name, plan in plans.items():
        selections[name] = (plan.ids, plan)
    records = []
    for name, (ids, plan) in selections.items():
        t = time.perf_counter()
        fresh = M.ByteTransformer(d=size["d"], layers=size["layers"],
                                  max_len=size["max_len"] + 1)
        fresh.load_state_dict(init.state_dict())
        fresh.to(device)
        if plan is not None:
            sampler.set_plan(plan)  # ids, weights and mixture from the engine
        else:
            sampler.set_plan(ids=ids)
        train(fresh, plan_loader(dataset, sampler, batch_size=size["batch"]),
              adamw(fresh, size), size["steps"])
        bpb = M.bits_per_byte(fresh, xt, mt)
        share = float((pool_domain[ids] == target_ix).mean())
        log(f"  seed {seed} {name:<10} bpb {bpb:.3f}  target share {share:.2f}  "
            f"({len(ids)} texts, {time.perf_counter() - t:.0f} s)")
        for metric, value in (("bpb", bpb), ("target_share", share)):
            records.append(dict(strategy=name, fraction=keep, seed=seed, metric=metric,
                                value=value))
    return records


def _timed(fn, min_seconds: float = 1.0) -> float:
    """Seconds per call of ``fn`` (after one warm-up call), repeated for at
    least ``min_seconds``."""
    fn()
    reps, start = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / reps


def throughput(fx, model, pool, size) -> dict:
    """Per-sample feature extraction rates on the same model and texts.

    * ``hooks + one batched backward``: ``FactoredFeatures.features`` on the
      batch (capture, then the factored projection in libwinnow);
    * ``per-example backward, factored``: the same call once per text
      (unpadded), isolating the effect of batching;
    * ``per-example backward, dense (LESS)``: LESS's way, one backward per
      text, the hooked layers' weight (and bias) gradients flattened and
      projected by a dense ``winnow.Projector`` to the same dimension, per
      example or (kinder to the dense projector) stacked and projected once.
    """
    xp, mp = pool
    n = size["throughput_texts"]
    x, mask = xp[:n], mp[:n]
    lengths = mask.sum(1).tolist()
    params = []
    for (_, module), bias in zip(fx.modules, fx.bias):
        params += [module.weight] + ([module.bias] if bias else [])
    dense = winnow.Projector(sum(p.numel() for p in params), fx.feature_dim, seed=0)

    def batched():
        fx.features(M.sample_losses, model, x, mask, mask=mask)

    def loop_factored():
        for i, t in enumerate(lengths):
            fx.features(M.sample_losses, model, x[i:i + 1, :t], mask[i:i + 1, :t])

    def loop_dense():
        for i, t in enumerate(lengths):
            model.zero_grad(set_to_none=True)
            M.sample_losses(model, x[i:i + 1, :t], mask[i:i + 1, :t]).sum().backward()
            g = torch.cat([p.grad.reshape(-1) for p in params]).float().cpu().numpy()
            dense.project(g[None])
        model.zero_grad(set_to_none=True)

    def loop_dense_batched():
        rows = []
        for i, t in enumerate(lengths):
            model.zero_grad(set_to_none=True)
            M.sample_losses(model, x[i:i + 1, :t], mask[i:i + 1, :t]).sum().backward()
            rows.append(torch.cat([p.grad.reshape(-1) for p in params]).float().cpu())
        dense.project(torch.stack(rows).numpy())
        model.zero_grad(set_to_none=True)

    cap = fx.capture(M.sample_losses, model, x, mask, mask=mask)
    rates = {
        "hooks + one batched backward (factored)": n / _timed(batched),
        "  of which capture (forward + backward + hooks)":
            n / _timed(lambda: fx.capture(M.sample_losses, model, x, mask, mask=mask)),
        "  of which factored projection (libwinnow)": n / _timed(lambda: fx.project(cap)),
        "per-example backward loop (factored)": n / _timed(loop_factored),
        "per-example backward loop, dense projection per example (LESS's way)":
            n / _timed(loop_dense),
        "per-example backward loop, one dense projection of the stacked gradients":
            n / _timed(loop_dense_batched),
    }
    out = dict(texts=n, feature_dim=fx.feature_dim, hooked_parameters=dense_dim(params),
               samples_per_second=rates)
    for name, rate in rates.items():
        log(f"  {name:<75} {rate:10.1f} samples/s")
    return out


def dense_dim(params) -> int:
    return int(sum(p.numel() for p in params))


def markdown(rows, throughput, meta) -> str:
    by = {(r["metric"], r["strategy"]): r for r in rows}
    random_bpb = by[("bpb", "random")]["mean"]
    lines = [f"Target `{meta['target']}`, pool {meta['pool']} texts, budget "
             f"{meta['fraction']:.0%}, {meta['seeds']} seed(s), {meta['steps']} steps of "
             f"{meta['batch']} texts per selection; device {meta['device']}, torch "
             f"{meta['torch']}, {meta['threads']} thread(s); {meta['seconds']:.0f} s in all.",
             "", "| strategy | bits/byte on held-out target texts (mean ± 95 % CI) | Δ vs random "
             "| target share of the selection |", "|---|---:|---:|---:|"]
    for strategy in ("random", "less", "less-adam"):
        b, s = by[("bpb", strategy)], by[("target_share", strategy)]
        ci = "" if b["n"] < 2 else f" ± {b['ci95']:.3f}"
        delta = "" if strategy == "random" else f"{b['mean'] - random_bpb:+.3f}"
        lines.append(f"| {strategy} | {b['mean']:.3f}{ci} | {delta} | {s['mean']:.2f} |")
    lines += ["", f"Feature extraction on the warmed-up model ({throughput['texts']} texts, "
              f"{throughput['hooked_parameters']} parameters in the hooked layers, "
              f"{throughput['feature_dim']} features):", "",
              "| method | samples/s |", "|---|---:|"]
    for name, rate in throughput["samples_per_second"].items():
        lines.append(f"| {name.strip()} | {rate:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes (seconds), for the tests")
    p.add_argument("--seeds", type=int, help="seeds (default 3; 1 with --smoke)")
    p.add_argument("--target", default="cs", help="target domain (default cs, Czech)")
    p.add_argument("--out", help="results folder")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: on a shared 2-core machine, 2 threads "
                        "spinning against another job ran checkpoints 14x slower here)")
    p.add_argument("--cpu", action="store_true", help="stay on the CPU even with CUDA")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    device = "cuda" if torch.cuda.is_available() and not a.cpu else "cpu"
    size = SIZES["smoke" if a.smoke else "full"]
    seeds = a.seeds or (1 if a.smoke else 3)
    out = a.out or (tempfile.mkdtemp(prefix="winnow-torch-") if a.smoke
                    else os.path.join(HERE, "results"))
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()

    corpus = load_corpus()
    val, test, pool = make_split(corpus, a.target, size["pool"], size["n_val"], size["n_test"])

    def tensors(ix):
        b, lengths = encode_bytes([corpus.texts[i] for i in ix], size["max_len"])
        return M.batch_tensors(b, lengths, device)
    target_ix = corpus.domain_index(a.target)
    pool_domain = corpus.domain[pool]
    data = (tensors(pool), tensors(val), tensors(test), pool_domain, target_ix)
    log(f"target {a.target}: pool {len(pool)} ({(pool_domain == target_ix).mean():.1%} target), "
        f"{len(val)} target texts, {len(test)} test texts; device {device}, torch "
        f"{torch.__version__}, winnow {winnow.version()} ({winnow.blas_core_name()})")
    timings = {"throughput_seed": 0}
    records = []
    for seed in range(seeds):
        records += run_seed(seed, size, data, device, timings)
    seconds = time.perf_counter() - start
    rows = report.summarize(records)
    meta = dict(target=a.target, pool=len(pool), fraction=size["fraction"], seeds=seeds,
                steps=size["steps"], batch=size["batch"], device=device,
                torch=torch.__version__, threads=a.threads, seconds=seconds,
                winnow=winnow.version(), blas_core=winnow.blas_core_name(),
                size="smoke" if a.smoke else "full", load_average_at_end=os.getloadavg(),
                command="make torch-example" if not a.smoke else "run.py --smoke")
    result = dict(meta=meta, settings=size, records=records, summary=rows,
                  throughput=timings["throughput"],
                  timings={k: v for k, v in timings.items() if k.endswith("_s")})
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    table = markdown(rows, timings["throughput"], meta)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table)
    log("", table, f"wrote {out}/results.json and table.md", sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
