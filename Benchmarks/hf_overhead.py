#!/usr/bin/env python3
"""Figures: the wall-time overhead of ``WinnowTrainer``'s in-step capture
over a plain ``transformers.Trainer`` (same model, data, steps), and the
cost of one pool re-scoring pass against pool size.

    make bench-hf        # or: .venv-torch/bin/python Benchmarks/hf_overhead.py [--quick]
                         #   [--device cuda] [--hidden D --layers L --tokens T]

Runs, interleaved ``repeats`` times so machine load hits every variant
alike (the median is reported):

* ``plain``: ``Trainer`` with the model's own loss;
* ``winnow, no capture``: ``WinnowTrainer`` on the whole pool (``fraction
  = 1``, a fixed plan), so the only differences from ``plain`` are the
  per-sample weighted loss and the sampler;
* ``winnow, in-step``: the same plus in-step capture of the chosen layers
  (hooks, the first stage of the projection on the model's device, the
  engine at the epoch's end).

Two models: LoRA (capture ``*lora_B*``: what the integration is for) and
a full fine-tune capturing every ``nn.Linear`` (a worst case on a small
model, where projection is a sizable share of a tiny step); each against
its own plain ``Trainer``. The anchor is
Bergson's ~17 % (its HF-callback gradient store). Writes
``Benchmarks/results/hf_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bindings", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments  # noqa: E402

import winnow  # noqa: E402
from winnow.hf import WinnowArguments, WinnowTrainer  # noqa: E402


def model(d, layers, seed=0, lora=True):
    torch.manual_seed(seed)
    m = LlamaForCausalLM(LlamaConfig(vocab_size=257, hidden_size=d, intermediate_size=2 * d,
                                     num_hidden_layers=layers, num_attention_heads=4,
                                     num_key_value_heads=4,
                                     max_position_embeddings=max(128, TOKENS[0])))
    if not lora:
        return m
    return get_peft_model(m, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                                        target_modules=["q_proj", "v_proj", "o_proj",
                                                        "down_proj"]))


def items(n, length, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = torch.tensor(rng.integers(1, 257, length))
        out.append({"input_ids": x, "attention_mask": torch.ones_like(x), "labels": x.clone()})
    return out


TOKENS = [64]     # the texts' length, for the position table (set in main)
DEVICE = ["cpu"]  # where Trainer runs (--device)


def args(folder, steps, batch):
    return TrainingArguments(output_dir=folder, per_device_train_batch_size=batch,
                             max_steps=steps, learning_rate=1e-3, report_to=[],
                             logging_strategy="no", save_strategy="no",
                             use_cpu=DEVICE[0] == "cpu",
                             disable_tqdm=True, seed=0)


def timed(trainer) -> float:
    t0 = time.perf_counter()
    trainer.train()
    return time.perf_counter() - t0


def overhead(size, folder):
    pool, target = items(size["pool"], size["len"], 1), items(16, size["len"], 2)
    steps, batch = size["steps"], size["batch"]
    variants = {}
    for lora, layers in ((True, "*lora_B.default"), (False, "*proj")):
        tag = "LoRA" if lora else "full fine-tune, every Linear"
        variants[f"plain ({tag})"] = (lambda lora=lora: Trainer(
            model=model(size["d"], size["layers"], lora=lora),
            args=args(folder, steps, batch), train_dataset=pool))
        for in_step in (False, True):
            w = WinnowArguments(fraction=1.0, initial="random", in_step=in_step,
                                select_every=10**6, layers=layers, k_in=8, k_out=8)
            name = f"winnow {'in-step' if in_step else 'no capture'} ({tag})"
            variants[name] = (lambda w=w, lora=lora: WinnowTrainer(
                model=model(size["d"], size["layers"], lora=lora),
                args=args(folder, steps, batch), train_dataset=pool,
                target_dataset=target, winnow=w))
    seconds = {name: [] for name in variants}
    for _ in range(size["repeats"]):
        for name, make in variants.items():
            seconds[name].append(timed(make()))
    med = {n: statistics.median(s) for n, s in seconds.items()}
    plain = lambda n: med["plain" + n[n.index(" ("):]]  # noqa: E731  (same model)
    low = {n: min(s) for n, s in seconds.items()}
    low_plain = lambda n: low["plain" + n[n.index(" ("):]]  # noqa: E731
    # Load on a shared machine only adds time: the minimum is the steadier figure.
    return {n: {"median_s": med[n], "min_s": low[n], "runs_s": seconds[n],
                "overhead_vs_plain": med[n] / plain(n) - 1,
                "overhead_vs_plain_min": low[n] / low_plain(n) - 1} for n in variants}


def rescoring(size, folder):
    """Seconds of one pool pass (features of every pool text, LoRA layers)."""
    out = []
    target = items(16, size["len"], 2)
    for n in size["pools"]:
        pool = items(n, size["len"], 3)
        t = WinnowTrainer(model=model(size["d"], size["layers"]), args=args(folder, 1, 16),
                          train_dataset=pool, target_dataset=target,
                          winnow=WinnowArguments(fraction=0.05, layers="*lora_B.default",
                                                 batch_size=32, in_step=False))
        t.create_optimizer_and_scheduler(1)
        t0 = time.perf_counter()
        t.selector.score(t.model, pool, np.arange(n), t.raw_collator, t.args.device, None)
        s = time.perf_counter() - t0
        out.append({"pool": n, "seconds": s, "ms_per_sample": 1e3 * s / n})
    slope = np.polyfit([r["pool"] for r in out], [r["seconds"] for r in out], 1)[0]
    return {"by_pool": out, "ms_per_sample_fit": 1e3 * slope}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "hf_overhead.json"))
    ap.add_argument("--hidden", type=int, default=128, help="the Llama's width d (default 128)")
    ap.add_argument("--layers", type=int, default=4, help="its decoder layers (default 4)")
    ap.add_argument("--tokens", type=int, default=64, help="tokens per text (default 64)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                    help="where Trainer trains (default cpu; cuda when a GPU is there)")
    a = ap.parse_args(argv)
    TOKENS[0], DEVICE[0] = a.tokens, a.device
    torch.set_num_threads(1)
    size = dict(d=a.hidden, layers=a.layers, len=a.tokens, pool=256, batch=16, steps=16, repeats=5,
                pools=[64, 128, 256])
    if a.quick:
        size.update(steps=8, repeats=1, pools=[32, 64])
    with tempfile.TemporaryDirectory() as folder:
        result = {"size": size, "device": a.device, "blas_core": winnow.blas_core_name(),
                  "torch_threads": torch.get_num_threads(),
                  "in_step": overhead(size, folder), "rescoring": rescoring(size, folder)}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"{a.device}; OpenBLAS core {result['blas_core']}; "
          f"{size['steps']} steps of {size['batch']} x "
          f"{size['len']} tokens, Llama d={size['d']} x {size['layers']} layers + LoRA r=8")
    for name, r in result["in_step"].items():
        print(f"  {name:50s} median {r['median_s']:6.2f} s {100 * r['overhead_vs_plain']:+6.1f} %"
              f"   min {r['min_s']:6.2f} s {100 * r['overhead_vs_plain_min']:+6.1f} %")
    for r in result["rescoring"]["by_pool"]:
        print(f"  pool pass, {r['pool']:5d} texts: {r['seconds']:6.2f} s "
              f"({r['ms_per_sample']:.2f} ms/text)")
    print(f"  linear fit: {result['rescoring']['ms_per_sample_fit']:.2f} ms per pool text")


if __name__ == "__main__":
    main()
