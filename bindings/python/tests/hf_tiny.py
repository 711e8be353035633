"""A tiny Llama and token data for the winnow.hf tests (and their
two-process worker): small enough that an epoch takes a fraction of a
second on a CPU."""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM, TrainingArguments

from winnow.hf import WinnowArguments, WinnowTrainer

VOCAB = 64


def tiny_llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64))


def token_items(count: int, length: int, seed: int, low: int = 1, high: int = VOCAB) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        x = torch.tensor(rng.integers(low, high, length))
        out.append({"input_ids": x, "attention_mask": torch.ones(length, dtype=torch.long),
                    "labels": x.clone()})
    return out


def pool_and_target():
    """80 pool texts (half from the target's token range) and 8 targets."""
    pool = token_items(40, 12, 1, 1, 32) + token_items(40, 12, 2, 32, VOCAB)
    return pool, token_items(8, 12, 3, 1, 32)


def trainer(output_dir: str, epochs: int = 2, save_steps: int | None = None,
            **winnow) -> WinnowTrainer:
    pool, target = pool_and_target()
    args = TrainingArguments(
        output_dir=output_dir, per_device_train_batch_size=4, num_train_epochs=epochs,
        learning_rate=2e-3, report_to=[], logging_strategy="no", use_cpu=True,
        save_strategy="steps" if save_steps else "no", save_steps=save_steps or 500,
        disable_tqdm=True, seed=0, data_seed=0)
    options = dict(fraction=0.2, select_every=2, seed=7,
                   engine={"weighting": "self_normalized", "weight_temperature": 0.05})
    options.update(winnow)
    return WinnowTrainer(model=tiny_llama(), args=args, train_dataset=pool,
                         target_dataset=target, winnow=WinnowArguments(**options))


def summary(t: WinnowTrainer) -> dict:
    return {"plans": {e: [p.tolist(), w.tolist()] for e, (p, w) in t.plans.items()},
            "trained": t.trained, "trained_weights": t.trained_weights,
            "max_steps": t.state.max_steps, "epoch": t.state.epoch}


if __name__ == "__main__":  # the two-process worker: python -m torch.distributed.run ...
    out = sys.argv[1]
    t = trainer(out, epochs=3)
    t.train()
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump(summary(t), f)
    # Leaving with the process group up lets its background threads meet
    # interpreter shutdown: a rank then died of std::terminate (SIGABRT) in
    # one CI run after writing its results. Both ranks close it together.
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
