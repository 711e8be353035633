"""Hugging Face ``Trainer`` integration: train every epoch on Winnow's plan.

::

    from winnow.hf import WinnowArguments, WinnowTrainer
    trainer = WinnowTrainer(model=model, args=TrainingArguments(...),
                            train_dataset=pool, target_dataset=target,
                            winnow=WinnowArguments(fraction=0.05, layers="*lora_*"))
    trainer.train()                  # or trainer.train(resume_from_checkpoint=True)

What happens (``WinnowCallback`` drives it):

* the epoch length is fixed to ``round(fraction * N)`` samples before
  ``train()`` builds its schedule, so ``max_steps``, the learning-rate
  schedule and ``state.epoch`` are right from the first step;
* before epoch 0 the pool is scored with the initial model (LESS features of
  the ``layers``: plain gradients, or Adam features from the optimizer's
  state with ``features="adam"``) against the target set's gradients, and
  the engine's plan (selection, mixture, weights) is epoch 0;
* during each epoch the trained batches' features come from the training
  step's own backward (in-step capture, no second pass) and feed the
  engine's score EMA; after every ``select_every`` epochs the rest of the
  pool is re-scored too; each epoch ends with the next epoch's plan;
* the loss is the plan-weighted mean of per-sample losses
  (``sample_losses``: causal LMs and classifiers, dict batches,
  ``labels == -100``, left and right padding);
* under accelerate/DDP the engine runs on rank 0 and the plan is broadcast;
  every rank's sampler yields the whole epoch and accelerate shards it once;
* checkpoints hold the engine's journal, the sampler state and the audit
  log (``checkpoint-*/winnow/``); ``resume_from_checkpoint`` replays them.

Needs ``transformers`` (and ``torch``); ``import winnow`` never imports them.
"""

from __future__ import annotations

try:
    import transformers  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised without transformers
    raise ImportError(
        "winnow.hf needs transformers (pip install transformers, or `make hf-venv` for the "
        "pinned versions); the rest of winnow does not need it") from error

from .capture import StepCapture
from .losses import model_inputs, per_sample_losses, position_ids, sample_losses
from .selector import Selector, WinnowArguments, epoch_size
from .trainer import EpochSampler, WinnowCallback, WinnowTrainer

__all__ = ["WinnowArguments", "WinnowTrainer", "WinnowCallback", "EpochSampler",
           "Selector", "StepCapture", "epoch_size", "per_sample_losses", "sample_losses",
           "model_inputs", "position_ids"]
