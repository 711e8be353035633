"""The engine side of the Trainer integration: feature passes, the engine's
epochs, the journal that makes them resumable, and the ranks' roles.

Distributed runs: **the engine runs on rank 0 and the plan is broadcast.**
Every rank captures the features of its own batches (in-step) and of its
share of the pool (re-scoring); rank 0 gathers them, feeds the engine,
and ``broadcast_object_list`` sends the plan to every rank, so all ranks
hold the same plan by construction, not by hoping that floating point
agrees across processes.

Resumability: the C engine keeps its cross-epoch state (score sums, EMA,
mixture) in the library, with no serialization call. The engine is a pure
function of what it was fed, so the selector keeps a journal of every
engine epoch's inputs (target rows, candidate ids, projected features,
losses, learning rate) and a checkpoint replays it into a fresh engine:
the same computation in the same order, hence the same state bit for bit.
The journal costs ``4 (V + n) k`` bytes per engine epoch (``n`` candidates
fed, ``k`` = ``feature_dim``).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..engine import Engine
from ..selection import rule_count
from .losses import sample_losses

FEATURES = ("sgd", "adam")
INITIAL = ("score", "random")


@dataclass
class WinnowArguments:
    """What ``WinnowTrainer`` selects and how.

    Attributes:
        fraction: share of the pool trained each epoch; the epoch length is
            fixed to ``round(fraction * N)`` samples from the start, so
            ``max_steps``, the LR schedule and ``state.epoch`` are right.
        select_every: re-score the whole pool after every ``select_every``
            epochs (in between, the plan follows the in-step scores).
        features: ``"sgd"`` (plain gradients, factored) or ``"adam"`` (LESS's
            Adam features from the optimizer's state; materializes each
            sample's gradient of the captured layers: use it for LoRA).
        layers: glob pattern(s) of the ``nn.Linear`` modules to capture
            (``"*lora_*"`` for peft's LoRA layers), or ``None`` for all.
        k_in, k_out: factored projection sizes per layer.
        in_step: capture the trained batches' features from the training
            step's own backward and feed them to the engine every epoch.
        initial: the first epoch's data: ``"score"`` (score the pool with
            the initial model) or ``"random"`` (a seeded random subset).
        batch_size: samples per forward pass when scoring pool and target.
        seed: projection, sampler and engine seed.
        engine: extra engine parameters (``policy``, ``weighting``,
            ``mixture_rule``, ...); ``score_combination`` defaults to
            ``"moving_average"``.
        audit_log: the engine's audit log (JSON lines); default
            ``<output_dir>/winnow-audit.jsonl``.
    """

    fraction: float = 0.05
    select_every: int = 1
    features: str = "sgd"
    layers: object = None
    k_in: int = 8
    k_out: int = 8
    in_step: bool = True
    initial: str = "score"
    batch_size: int = 16
    seed: int = 0
    engine: dict = field(default_factory=dict)
    audit_log: str | None = None

    def __post_init__(self):
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")
        if int(self.select_every) < 1:
            raise ValueError(f"select_every must be at least 1, got {self.select_every}")
        if self.features not in FEATURES:
            raise ValueError(f"features must be one of {FEATURES}, got {self.features!r}")
        if self.initial not in INITIAL:
            raise ValueError(f"initial must be one of {INITIAL}, got {self.initial!r}")
        if int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")


def epoch_size(fraction: float, n: int) -> int:
    """The engine's selection size: ``round(fraction * n)``, at least one, as
    the library counts it (``winnow.selection.rule_count``); 0 for no rows."""
    return 0 if n == 0 else rule_count(n, fraction=fraction)


# MARK: - Ranks

def rank_and_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def gather(obj) -> list:
    """Every rank's ``obj`` in rank order (all ranks get the list)."""
    rank, world = rank_and_world()
    if world == 1:
        return [obj]
    out = [None] * world
    torch.distributed.all_gather_object(out, obj)
    return out


def broadcast(obj):
    """Rank 0's ``obj`` on every rank."""
    if rank_and_world()[1] == 1:
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


# MARK: - Selector

class Selector:
    """Feeds one Winnow engine per run (on rank 0) and keeps its journal.

    An engine epoch ``c`` is a checkpoint in LESS's sense: ``c = 0`` scores
    the initial model, ``c = e + 1`` closes training epoch ``e``. Each is
    recorded as ``{"epoch", "lr", "target" (V x k), "ids" (n),
    "features" (n x k), "losses" (n)}`` before it is fed.
    """

    def __init__(self, args: WinnowArguments, fx, pool_ids, domains=None):
        self.args, self.fx = args, fx
        self.pool_ids = np.asarray(pool_ids, np.int64)
        self.domains = None if domains is None else np.asarray(domains, np.int32)
        self.rank, self.world = rank_and_world()
        self.journal: list[dict] = []
        self.open: dict | None = None
        self.chunks: list[tuple] = []     # this rank's in-step (ids, features, losses)
        self.audit_path: str | None = None
        self.engine = self._new_engine() if self.rank == 0 else None

    def _new_engine(self) -> Engine:
        params = {"select_fraction": self.args.fraction, "seed": self.args.seed,
                  "score_combination": "moving_average", **self.args.engine}
        return Engine(self.pool_ids, self.domains, feature_dim=self.fx.feature_dim, **params)

    def set_audit_log(self, path: str) -> None:
        self.audit_path = path
        if self.engine is not None:
            self.engine.set_audit_log(path)

    # MARK: Features

    def features(self, cap, optimizer) -> np.ndarray:
        """``S x k`` features of a capture: plain or LESS's Adam features."""
        if self.args.features == "adam":
            return np.ascontiguousarray(self.fx.adam_features(cap, optimizer), np.float32)
        return self.fx.project(cap)

    def batch_features(self, model, batch: dict, optimizer):
        """Features and losses of one collated dict batch (a separate pass,
        model in eval mode so dropout stays out of the features)."""
        mask = batch.get("attention_mask")
        if self.args.features != "adam" and self.fx.on_accelerator:  # first stage there
            return self.fx._device_features(sample_losses, (model, batch), {}, mask)
        cap = self.fx.capture(sample_losses, model, batch, mask=mask)
        return self.features(cap, optimizer), cap.losses

    def score(self, model, dataset, indices, collate, device, optimizer):
        """Features of ``dataset[indices]`` in batches: ``(features, losses)``."""
        was_training = model.training
        model.eval()
        feats, losses = [], []
        try:
            for s in range(0, len(indices), self.args.batch_size):
                items = [dataset[int(i)] for i in indices[s:s + self.args.batch_size]]
                batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v
                         for k, v in collate(items).items()}
                f, l = self.batch_features(model, batch, optimizer)
                feats.append(f)
                losses.append(l)
        finally:
            model.train(was_training)
        k = self.fx.feature_dim
        return (np.concatenate(feats) if feats else np.zeros((0, k), np.float32),
                np.concatenate(losses) if losses else np.zeros(0, np.float32))

    # MARK: Engine epochs

    def open_epoch(self, epoch: int, lr: float) -> None:
        """Starts engine epoch ``epoch`` (in-step rows may follow)."""
        self.open = {"epoch": int(epoch), "lr": float(lr)}
        self.chunks = []

    def add_step(self, positions: np.ndarray, features: np.ndarray, losses: np.ndarray):
        """Keeps one training step's in-step features on this rank."""
        if self.open is not None:
            self.chunks.append((positions, features, losses))

    def consolidate(self) -> None:
        """Moves every rank's in-step chunks to rank 0 (collective)."""
        everyone = gather(self.chunks)
        self.chunks = [c for chunks in everyone for c in chunks] if self.rank == 0 else []

    def stepped_positions(self) -> np.ndarray:
        """Pool positions fed in-step so far this epoch (after ``consolidate``)."""
        if not self.chunks:
            return np.zeros(0, np.int64)
        return np.unique(np.concatenate([c[0] for c in self.chunks]))

    def close_epoch(self, target, extra=None):
        """Rank 0: builds the record (``target`` rows, ``V x k``; in-step
        rows, first occurrence of each position; then ``extra = (positions,
        features, losses)``), feeds it and returns the plan as ``(ids,
        weights, mixture)``; other ranks return ``None``. Call
        ``consolidate`` first."""
        if self.rank != 0:
            self.open, self.chunks = None, []
            return None
        parts = list(self.chunks) + ([extra] if extra is not None else [])
        k = self.fx.feature_dim
        pos = np.concatenate([p for p, _, _ in parts]) if parts else np.zeros(0, np.int64)
        feats = np.concatenate([f for _, f, _ in parts]) if parts else np.zeros((0, k), np.float32)
        losses = np.concatenate([l for _, _, l in parts]) if parts else np.zeros(0, np.float32)
        _, first = np.unique(pos, return_index=True)
        first.sort()
        record = dict(self.open, target=np.ascontiguousarray(target, np.float32), ids=self.pool_ids[pos[first]],
                      features=np.ascontiguousarray(feats[first], np.float32),
                      losses=np.ascontiguousarray(losses[first], np.float32))
        self.open, self.chunks = None, []
        self.journal.append(record)
        return self._feed(record)

    def _feed(self, r: dict):
        e = self.engine
        e.begin_epoch(r["epoch"], max(r["lr"], 1e-30))
        e.add_target(0, r["target"])
        if r["ids"].size:
            e.add_candidates(r["ids"], r["features"], losses=r["losses"])
        plan = e.end_epoch()
        return plan.ids, plan.weights, plan.mixture

    # MARK: Checkpoints

    def save(self, folder: str) -> None:
        """Rank 0 writes the journal, the open epoch and the audit log into
        ``folder`` (call ``consolidate`` first on every rank)."""
        if self.rank != 0:
            return
        os.makedirs(folder, exist_ok=True)
        for i, r in enumerate(self.journal):
            path = os.path.join(folder, f"journal-{i:05d}.npz")
            if not os.path.exists(path):
                _save_npz(path, r)
        if self.open is not None:
            pos, f, l = self.stepped(self.chunks)
            _save_npz(os.path.join(folder, "open.npz"),
                      dict(self.open, positions=pos, features=f, losses=l))
        with open(os.path.join(folder, "journal.json"), "w") as out:
            json.dump({"records": len(self.journal), "open": self.open is not None,
                       "args": _jsonable(asdict(self.args))}, out)
        if self.audit_path and os.path.exists(self.audit_path):
            shutil.copyfile(self.audit_path, os.path.join(folder, "audit.jsonl"))

    def stepped(self, chunks):
        k = self.fx.feature_dim
        if not chunks:
            return np.zeros(0, np.int64), np.zeros((0, k), np.float32), np.zeros(0, np.float32)
        return tuple(np.concatenate([c[i] for c in chunks]) for i in range(3))

    def load(self, folder: str) -> None:
        """Replays ``folder``'s journal into a fresh engine (rank 0), restores
        the open epoch and puts the checkpoint's audit log back in place."""
        with open(os.path.join(folder, "journal.json")) as f:
            meta = json.load(f)
        self.journal = [_load_npz(os.path.join(folder, f"journal-{i:05d}.npz"))
                        for i in range(meta["records"])]
        self.open, self.chunks = None, []
        if meta["open"]:
            r = _load_npz(os.path.join(folder, "open.npz"))
            self.open = {"epoch": int(r["epoch"]), "lr": float(r["lr"])}
            if self.rank == 0 and r["positions"].size:
                self.chunks = [(r["positions"], r["features"], r["losses"])]
        if self.rank != 0:
            return
        self.engine = self._new_engine()
        for r in self.journal:
            self._feed(r)
        if self.audit_path:
            saved = os.path.join(folder, "audit.jsonl")
            if os.path.exists(saved):
                shutil.copyfile(saved, self.audit_path)
            elif os.path.exists(self.audit_path):
                os.remove(self.audit_path)
            self.engine.set_audit_log(self.audit_path)


def _save_npz(path: str, record: dict) -> None:
    tmp = path + ".tmp.npz"
    np.savez(tmp, **{k: np.asarray(v) for k, v in record.items()})
    os.replace(tmp, path)


def _load_npz(path: str) -> dict:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: missing from the checkpoint's Winnow journal")
    with np.load(path) as z:
        r = {k: z[k] for k in z.files}
    r["epoch"], r["lr"] = int(r["epoch"]), float(r["lr"])
    return r


def _jsonable(d: dict) -> dict:
    return {k: v if isinstance(v, (int, float, str, bool, type(None), dict, list)) else repr(v)
            for k, v in d.items()}
