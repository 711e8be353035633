"""``WinnowTrainer``: a ``transformers.Trainer`` that trains every epoch on
Winnow's plan (selection, order, weights), with in-step capture, a pool
re-scoring pass every ``select_every`` epochs, distributed training and
checkpoint/resume. The selection logic lives in ``selector.py``; this file
is the glue to ``Trainer`` and its ``TrainerCallback`` events.
"""

from __future__ import annotations

import json
import os

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler
from transformers import Trainer, TrainerCallback

from .._torch_features import FactoredFeatures
from .._torch_sampler import PlanSampler
from .capture import StepCapture
from .losses import sample_losses
from .selector import Selector, WinnowArguments, broadcast, epoch_size

INDEX = "winnow_index"
STATE_FOLDER = "winnow"


class EpochSampler(Sampler[int]):
    """Yields exactly ``size`` dataset indices per epoch: the ``PlanSampler``'s
    order of the plan (cycled if the plan is shorter, cut if longer), so
    ``len(dataloader)`` never changes. It yields the whole epoch on every
    rank: ``accelerate`` shards the batches once (rank ``r`` gets batches
    ``r, r + world, ...``)."""

    def __init__(self, plans: PlanSampler, size: int):
        self.plans, self.size = plans, int(size)

    def epoch_indices(self) -> np.ndarray:
        return np.resize(self.plans.epoch_indices(), self.size)

    def __iter__(self):
        return iter(self.epoch_indices().tolist())

    def __len__(self) -> int:
        return self.size

    def set_epoch(self, epoch: int) -> None:
        self.plans.set_epoch(epoch)


class _Indexed(Dataset):
    """Adds each item's dataset index under ``winnow_index``."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        item = self.dataset[i]
        if not isinstance(item, dict):
            raise TypeError(f"WinnowTrainer needs dict items (input_ids, labels, ...); item {i} "
                            f"is a {type(item).__name__}")
        return {**item, INDEX: i}


class _IndexedCollator:
    """Collates without ``winnow_index``, then adds it as an ``int64`` tensor."""

    def __init__(self, collate):
        self.collate = collate

    def __call__(self, items):
        index = torch.tensor([item[INDEX] for item in items], dtype=torch.int64)
        batch = self.collate([{k: v for k, v in item.items() if k != INDEX} for item in items])
        batch[INDEX] = index
        return batch


class WinnowTrainer(Trainer):
    """``Trainer`` whose every epoch is Winnow's plan.

    Example::

        trainer = WinnowTrainer(model=model, args=TrainingArguments(...),
                                train_dataset=pool, target_dataset=target,
                                winnow=WinnowArguments(fraction=0.05, layers="*lora_*"))
        trainer.train()

    ``train_dataset`` is the candidate pool (dict items with ``labels``);
    ``target_dataset`` the samples to get better at (their plain gradients
    are the target, as in LESS). ``pool_ids`` (default ``0 .. N-1``) and
    ``domains`` go to the engine. The loss is the plan-weighted mean of
    per-sample losses (``winnow.hf.sample_losses``).

    Attributes read by tests and users: ``plans`` (per training epoch, the
    dataset positions and weights it was planned to train), ``trained`` (per
    epoch, the positions this rank trained, in order), ``trained_weights``
    (the weights their losses got) and ``selector``.
    """

    def __init__(self, *args, target_dataset, winnow: WinnowArguments | None = None,
                 pool_ids=None, domains=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.winnow_args = w = winnow or WinnowArguments()
        n = len(self.train_dataset)
        self.pool = self.train_dataset
        self.target_dataset = target_dataset
        self.raw_collator = self.data_collator
        self.train_dataset = _Indexed(self.pool)
        self.data_collator = _IndexedCollator(self.raw_collator)
        ids = np.arange(n, dtype=np.int64) if pool_ids is None else np.asarray(pool_ids, np.int64)
        self.fx = FactoredFeatures(self.model, w.layers, k_in=w.k_in, k_out=w.k_out, seed=w.seed)
        self.selector = Selector(w, self.fx, ids, domains)
        self.selector.set_audit_log(w.audit_log or os.path.join(self.args.output_dir,
                                                                 "winnow-audit.jsonl"))
        self.plan_sampler = PlanSampler(ids, domains=domains, seed=w.seed)
        self.winnow_sampler = EpochSampler(self.plan_sampler, epoch_size(w.fraction, n))
        self.step_capture = StepCapture(self.fx)
        self.loss_is_scaled_for_ga = False
        self.model_accepts_loss_kwargs = False
        self.plans: dict[int, tuple] = {}
        self.trained: dict[int, list] = {}
        self.trained_weights: dict[int, list] = {}
        self._restored = False
        self._step = None
        self.add_callback(WinnowCallback(self))

    # MARK: - Data

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if INDEX not in self._signature_columns:
            self._signature_columns.append(INDEX)

    def _get_train_sampler(self, train_dataset=None):
        return self.winnow_sampler

    def set_plan(self, epoch: int, ids, weights, mixture) -> None:
        """Trains epoch ``epoch`` on a plan (every rank)."""
        self.plan_sampler.set_plan(ids=ids, weights=weights, mixture=mixture)
        self.plans[epoch] = (self.plan_sampler._positions.copy(),
                             self.plan_sampler.plan_weights.copy())

    # MARK: - Loss and in-step capture

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        index = inputs.pop(INDEX)
        weights = torch.from_numpy(self.plan_sampler.weights_for(index.cpu().numpy()))
        losses = sample_losses(model, inputs)
        weights = weights.to(losses.device)
        loss = (weights * losses).mean()
        if model.training:
            self.trained.setdefault(self.plan_sampler.epoch, []).extend(index.tolist())
            self.trained_weights.setdefault(self.plan_sampler.epoch, []).extend(
                weights.tolist())
            self._step = (index.cpu().numpy(), weights.detach().cpu().numpy(),
                          losses.detach().float().cpu().numpy(), inputs.get("attention_mask"))
        return (loss, None) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        if not (self.winnow_args.in_step and self.selector.open is not None):
            return super().training_step(model, inputs, num_items_in_batch)
        with self.step_capture.recording():
            loss = super().training_step(model, inputs, num_items_in_batch)
        self._take_step()
        return loss

    def _take_step(self) -> None:
        if self._step is None:
            return
        index, weights, losses, mask = self._step
        self._step = None
        keep = weights > 0
        # Undo the loss's w_s / (S g): the rows then hold the gradient of each
        # sample's own loss.
        scale = (index.size * self.current_gradient_accumulation_steps
                 / np.where(keep, weights, 1)).astype(np.float32)
        if self.selector.args.features != "adam" and self.selector.fx.on_accelerator:
            # Plain features are linear in D: project on the model's device and
            # scale the rows; only S x feature_dim floats reach the host.
            features = self.step_capture.features(index.size, mask)
            if features is None or not keep.any():
                return
            features = features[keep] * scale[keep, None]
        else:
            # Adam's transform is not linear: scale D on the host before it
            # (and on the CPU, libwinnow projects the factors faster).
            cap = self.step_capture.capture(index.size, mask)
            if cap is None or not keep.any():
                return
            rows = np.repeat(scale, cap.token_counts)[:, None]
            for _, d in cap.factors:
                np.multiply(d, rows, out=d)
            features = self.selector.features(cap, self.optimizer)[keep]
        self.selector.add_step(index[keep], np.ascontiguousarray(features, np.float32),
                               losses[keep])

    # MARK: - Engine epochs (called by WinnowCallback)

    def _lr(self) -> float:
        sched = getattr(self, "lr_scheduler", None)
        return float(sched.get_last_lr()[0]) if sched is not None else self.args.learning_rate

    def _scoring_collator(self):
        """The user's collator, dropping the columns the model does not take
        (as ``Trainer`` does for training when ``remove_unused_columns``)."""
        return self._get_collator_with_removed_columns(self.raw_collator, "Winnow scoring")

    def _targets(self) -> np.ndarray | None:
        if self.selector.rank != 0:
            return None
        t = self.target_dataset
        f, _ = self.selector.score(self.model, t, np.arange(len(t)), self._scoring_collator(),
                                   self.args.device, self.optimizer)
        return f

    def _pool_share(self, positions: np.ndarray):
        """This rank's strided share of ``positions``, scored and gathered."""
        from .selector import gather
        sel = self.selector
        mine = positions[sel.rank::sel.world]
        f, l = sel.score(self.model, self.pool, mine, self._scoring_collator(),
                         self.args.device, self.optimizer)
        parts = gather((mine, f, l))
        if sel.rank != 0:
            return None
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))

    def winnow_epoch(self, engine_epoch: int, next_epoch: int, rescore: bool) -> None:
        """Closes ``engine_epoch`` (in-step rows, plus the rest of the pool
        when ``rescore``) and installs the plan for training epoch
        ``next_epoch`` on every rank."""
        sel = self.selector
        if sel.open is None:
            sel.open_epoch(engine_epoch, self._lr())
        sel.consolidate()
        extra = None
        if rescore:
            rest = np.setdiff1d(np.arange(len(self.pool)), broadcast(sel.stepped_positions()))
            extra = self._pool_share(rest)
        # Targets of the model as the epoch closes (rank 0 only).
        plan = broadcast(sel.close_epoch(self._targets(), extra) if sel.rank == 0
                         else sel.close_epoch(None))
        self.set_plan(next_epoch, *plan)

    # MARK: - Checkpoints

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        folder = os.path.join(self._get_output_dir(trial=trial),
                              f"checkpoint-{self.state.global_step}", STATE_FOLDER)
        self.selector.consolidate()
        if self.selector.rank == 0:
            self.selector.save(folder)
            state = {"sampler": self.plan_sampler.state_dict(),
                     "plans": {str(e): [p.tolist(), w.tolist()] for e, (p, w) in self.plans.items()}}
            with open(os.path.join(folder, "sampler.json"), "w") as f:
                json.dump(state, f)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        folder = os.path.join(resume_from_checkpoint, STATE_FOLDER)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{resume_from_checkpoint}: no {STATE_FOLDER}/ folder; "
                                    "the checkpoint was not written by WinnowTrainer")
        with open(os.path.join(folder, "sampler.json")) as f:
            state = json.load(f)
        self.plan_sampler.load_state_dict(state["sampler"])
        self.plans = {int(e): (np.asarray(p, np.int64), np.asarray(w, np.float32))
                      for e, (p, w) in state["plans"].items()}
        self.selector.load(folder)
        self._restored = True


class WinnowCallback(TrainerCallback):
    """The events that drive ``WinnowTrainer``'s engine epochs:

    * ``on_train_begin``: the first epoch's plan (score the pool with the
      initial model, engine epoch 0, or a seeded random subset), unless the
      run resumed from a checkpoint;
    * ``on_epoch_begin``: opens engine epoch ``e + 1`` so in-step rows can
      follow;
    * ``on_epoch_end``: closes it with the target rows of the model as the
      epoch ends (rank 0); after every ``select_every`` epochs the rest of
      the pool is re-scored first. The plan trains epoch ``e + 1``.
    """

    def __init__(self, trainer: WinnowTrainer):
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        t = self.trainer
        if t._restored:
            return
        if t.winnow_args.initial == "random":
            rng = np.random.default_rng(t.winnow_args.seed)
            pick = np.sort(rng.choice(len(t.pool), t.winnow_sampler.size, replace=False))
            t.set_plan(0, t.selector.pool_ids[pick], None, None)
            return
        t.winnow_epoch(0, 0, rescore=True)

    def on_epoch_begin(self, args, state, control, **kwargs):
        t = self.trainer
        epoch = int(np.floor(state.epoch + 1e-6))
        if t.selector.open is None and t.winnow_args.in_step:
            t.selector.open_epoch(epoch + 1, t._lr())

    def on_epoch_end(self, args, state, control, **kwargs):
        t = self.trainer
        epoch = t.plan_sampler.epoch
        if state.global_step >= state.max_steps:
            return  # no epoch follows: skip the pool pass
        rescore = (epoch + 1) % t.winnow_args.select_every == 0
        if rescore or t.winnow_args.in_step:
            t.winnow_epoch(epoch + 1, epoch + 1, rescore)
        else:
            t.plans[epoch + 1] = t.plans[epoch]
