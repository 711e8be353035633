"""What both tasks share: the strategies, one training run through
``WinnowTrainer``, evaluation, and the records the report is built from."""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from transformers import TrainingArguments

from winnow.hf import WinnowArguments, WinnowTrainer, sample_losses

#: name -> (fraction of the pool, selection, steps budget)
#: ``winnow``: scored by Winnow (initial pool scoring, in-step EMA);
#: ``random``: a seeded uniform subset, fixed for the run;
#: ``full``: the whole pool for the same number of epochs (LESS's protocol);
#: ``full@compute``: the whole pool, stopped after the 5 % runs' step count.
STRATEGIES = ("winnow", "random", "full", "full@compute")


def strategy_options(name: str, fraction: float, epochs: int, layers, seed: int, engine: dict):
    if name == "winnow":
        return WinnowArguments(fraction=fraction, select_every=epochs + 1, layers=layers,
                               k_in=4, k_out=4, seed=seed, engine=engine, batch_size=32)
    full = name.startswith("full")
    return WinnowArguments(fraction=1.0 if full else fraction, initial="random",
                           in_step=False, select_every=epochs + 1, layers=layers, k_in=2,
                           k_out=2, seed=seed)


def train(name, model, pool, target, collate, out, *, fraction, epochs, batch, lr, layers,
          seed, engine=None, max_steps=-1):
    """One run; returns ``(trainer, seconds)``."""
    args = TrainingArguments(
        output_dir=out, per_device_train_batch_size=batch, num_train_epochs=epochs,
        max_steps=max_steps, learning_rate=lr, lr_scheduler_type="linear", warmup_steps=0,
        weight_decay=0.0, report_to=[], logging_strategy="no", save_strategy="no",
        use_cpu=True, disable_tqdm=True, seed=seed, data_seed=seed)
    options = strategy_options(name, fraction, epochs, layers, seed, engine or {})
    trainer = WinnowTrainer(model=model, args=args, train_dataset=pool, target_dataset=target,
                            data_collator=collate, winnow=options)
    t0 = time.perf_counter()
    trainer.train()
    return trainer, time.perf_counter() - t0


@torch.no_grad()
def evaluate(model, items, collate, batch: int = 64):
    """Per-sample losses (and argmax predictions of classifiers) on ``items``."""
    model.eval()
    losses, correct = [], []
    for s in range(0, len(items), batch):
        b = collate(items[s:s + batch])
        out = model(**{k: v for k, v in b.items() if k != "labels"})
        from winnow.hf import per_sample_losses
        losses.append(per_sample_losses(out.logits, b["labels"], b.get("attention_mask")))
        if out.logits.dim() == 2:
            correct.append((out.logits.argmax(1) == b["labels"]).float())
    loss = float(torch.cat(losses).mean())
    acc = float(torch.cat(correct).mean()) if correct else None
    return loss, acc


def records(task, strategy, fraction, values: dict):
    return [dict(task=task, metric=m, strategy=strategy, fraction=fraction, value=v)
            for m, v in values.items() if v is not None]


__all__ = ["STRATEGIES", "train", "evaluate", "records", "sample_losses", "np", "os"]
