"""A ``torch.utils.data.Sampler`` that trains on the engine's plan, and a
``DataLoader`` helper that hands each batch its plan weights. Imported by
``winnow.torch``."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

DRAWS = ("plan", "mixture")


class PlanSampler(Sampler[int]):
    """Yields dataset indices from the engine's latest plan, epoch by epoch.

    Dataset index ``i`` holds the sample whose engine id is ``ids[i]``.
    Before any plan (``set_plan``), an epoch is the whole dataset with
    weight 1 (a warm-up epoch).

    Two ways to draw an epoch:

    * ``draw="plan"`` (default): every selected id exactly once, shuffled
      (or in plan order with ``shuffle=False``);
    * ``draw="mixture"``: ``num_samples`` draws (default: the plan's size);
      each draw picks a domain from the plan's mixture, then a selected id of
      that domain (each once before any repeats); a domain the mixture wants
      but the plan left empty is drawn from the whole dataset's samples of
      that domain. Needs ``domains``.

    ``weight_for(i)`` is the plan weight of index ``i`` (1 for an index the
    plan did not select). The order is a pure function of ``(seed, epoch,
    plan)``, as ``DistributedSampler``'s is of ``(seed, epoch)``: call
    ``set_epoch(epoch)`` before each epoch, and with ``num_replicas > 1``
    every rank gets a disjoint share (padded by repetition to equal length
    unless ``drop_last``). ``state_dict``/``load_state_dict`` save and
    restore the plan, epoch and settings, so a resumed run draws the same
    epochs.

    Args:
        ids: engine id of each dataset index (``N`` distinct ``int64``), or
            an ``int`` ``N`` for ids ``0 .. N-1``.
        domains: ``N`` domain indices (for ``draw="mixture"``), or ``None``.
        seed, shuffle, draw, num_samples: as above.
        num_replicas, rank: data-parallel share, as ``DistributedSampler``.
        drop_last: drop the tail instead of padding the shares.
    """

    def __init__(self, ids, *, domains=None, seed: int = 0, shuffle: bool = True,
                 draw: str = "plan", num_samples: int | None = None, num_replicas: int = 1,
                 rank: int = 0, drop_last: bool = False):
        if draw not in DRAWS:
            raise ValueError(f"draw must be one of {DRAWS}, got {draw!r}")
        ids = np.arange(ids, dtype=np.int64) if isinstance(ids, int) \
            else np.asarray(ids, dtype=np.int64).reshape(-1)
        self.ids = ids
        self._index = {int(v): i for i, v in enumerate(ids)}
        if len(self._index) != ids.size:
            raise ValueError("ids must be distinct")
        self.domains = None if domains is None else np.asarray(domains, np.int64).reshape(-1)
        if self.domains is not None and self.domains.size != ids.size:
            raise ValueError(f"{self.domains.size} domains for {ids.size} ids")
        if draw == "mixture" and self.domains is None:
            raise ValueError('draw="mixture" needs domains')
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside 0 .. {num_replicas - 1}")
        self.seed, self.shuffle, self.draw = int(seed), bool(shuffle), draw
        self.num_samples, self.num_replicas, self.rank = num_samples, num_replicas, rank
        self.drop_last, self.epoch = drop_last, 0
        self._set(None, None, None)

    # MARK: - Plan and epoch

    def set_plan(self, plan=None, *, ids=None, weights=None, mixture=None) -> None:
        """Trains on ``plan`` (a ``winnow.Plan``) from now on, or on explicit
        ``ids`` / ``weights`` / ``mixture``; ``set_plan()`` goes back to the
        whole dataset. Every id must be one of the sampler's."""
        if plan is not None:
            ids, weights, mixture = plan.ids, plan.weights, plan.mixture
        self._set(ids, weights, mixture)

    def _set(self, ids, weights, mixture):
        if ids is None:
            self.plan_ids = self.plan_weights = self.mixture = None
            self._positions = np.arange(self.ids.size)
            self._weights = np.ones(self.ids.size, np.float32)
            return
        ids = np.asarray(ids, np.int64).reshape(-1)
        weights = np.ones(ids.size, np.float32) if weights is None \
            else np.asarray(weights, np.float32).reshape(-1)
        if weights.size != ids.size:
            raise ValueError(f"{weights.size} weights for {ids.size} ids")
        unknown = [int(i) for i in ids if int(i) not in self._index]
        if unknown:
            raise KeyError(f"plan ids not in the sampler's ids: {unknown[:5]}")
        self.plan_ids, self.plan_weights = ids, weights
        self.mixture = None if mixture is None else np.asarray(mixture, np.float64).reshape(-1)
        self._positions = np.asarray([self._index[int(i)] for i in ids], np.int64)
        self._weights = np.ones(self.ids.size, np.float32)
        self._weights[self._positions] = weights

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch whose order the next ``iter`` yields (as
        ``DistributedSampler.set_epoch``)."""
        self.epoch = int(epoch)

    def weight_for(self, index: int) -> float:
        """The plan weight of dataset index ``index`` (1 when unselected)."""
        return float(self._weights[index])

    def weights_for(self, indices) -> np.ndarray:
        """``float32`` plan weights of several dataset indices."""
        return self._weights[np.asarray(indices, np.int64)]

    # MARK: - Drawing

    def _generator(self) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        return g

    def epoch_indices(self) -> np.ndarray:
        """Every replica's indices of the current epoch, before sharding."""
        g = self._generator()
        if self.draw == "mixture" and self.mixture is not None:
            return self._mixture_indices(g)
        positions = self._positions
        if self.shuffle:
            positions = positions[torch.randperm(positions.size, generator=g).numpy()]
        return positions

    def _mixture_indices(self, g: torch.Generator) -> np.ndarray:
        n = self.num_samples or self._positions.size
        mixture = torch.as_tensor(self.mixture, dtype=torch.float64)
        if mixture.numel() <= int(self.domains.max()):
            raise ValueError(f"the mixture has {mixture.numel()} domains; domains go up to "
                             f"{int(self.domains.max())}")
        chosen = torch.multinomial(mixture, n, replacement=True, generator=g).numpy()
        out = np.empty(n, np.int64)
        for d in np.unique(chosen):
            where = np.flatnonzero(chosen == d)
            pool = self._positions[self.domains[self._positions] == d]
            if pool.size == 0:
                pool = np.flatnonzero(self.domains == d)
            if pool.size == 0:
                raise ValueError(f"the mixture draws domain {d}, which has no samples")
            # Each once before any repeats: cycle through shuffled copies.
            rounds = -(-where.size // pool.size)
            order = np.concatenate([pool[torch.randperm(pool.size, generator=g).numpy()]
                                    for _ in range(rounds)])
            out[where] = order[:where.size]
        return out

    def __iter__(self):
        return iter(self._shard(self.epoch_indices()).tolist())

    def _shard(self, indices: np.ndarray) -> np.ndarray:
        if self.num_replicas == 1:
            return indices
        r = self.num_replicas
        if self.drop_last:
            indices = indices[:indices.size - indices.size % r]
        elif indices.size % r:
            pad = r - indices.size % r
            indices = np.concatenate([indices, np.resize(indices, pad)])
        return indices[self.rank::r]

    def __len__(self) -> int:
        n = self.num_samples or self._positions.size \
            if self.draw == "mixture" and self.mixture is not None else self._positions.size
        r = self.num_replicas
        return n // r if self.drop_last else -(-n // r)

    # MARK: - Checkpointing

    def state_dict(self) -> dict:
        """The plan, epoch and settings (plain Python values)."""
        return {
            "epoch": self.epoch, "seed": self.seed, "shuffle": self.shuffle, "draw": self.draw,
            "num_samples": self.num_samples,
            "plan_ids": None if self.plan_ids is None else self.plan_ids.tolist(),
            "plan_weights": None if self.plan_weights is None else self.plan_weights.tolist(),
            "mixture": None if self.mixture is None else self.mixture.tolist(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restores ``state_dict()``'s plan, epoch and settings."""
        self.seed, self.shuffle = int(state["seed"]), bool(state["shuffle"])
        self.draw, self.num_samples = state["draw"], state["num_samples"]
        self._set(state["plan_ids"], state["plan_weights"], state["mixture"])
        self.epoch = int(state["epoch"])


class WeightedBatch(NamedTuple):
    """A batch of ``plan_loader``: the collated ``data``, its plan
    ``weights`` (``float32`` tensor) and its dataset ``indices``."""

    data: object
    weights: torch.Tensor
    indices: torch.Tensor


class _Indexed(Dataset):
    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        return index, self.dataset[index]


class _IndexedCollate:
    def __init__(self, collate):
        self.collate = collate

    def __call__(self, items):
        return self.collate([x for _, x in items]), torch.tensor([i for i, _ in items])


class PlanLoader:
    """A ``DataLoader`` over a ``PlanSampler`` whose batches carry their plan
    weights (looked up in the main process, so worker processes never hold a
    stale plan). Iterating yields ``WeightedBatch``; ``set_epoch`` forwards
    to the sampler."""

    def __init__(self, dataset, sampler: PlanSampler, batch_size: int = 1, collate_fn=None,
                 **kwargs):
        self.sampler = sampler
        self.loader = DataLoader(_Indexed(dataset), batch_size=batch_size, sampler=sampler,
                                 collate_fn=_IndexedCollate(collate_fn or default_collate),
                                 **kwargs)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for data, indices in self.loader:
            weights = torch.from_numpy(self.sampler.weights_for(indices.numpy()))
            yield WeightedBatch(data, weights, indices)


def plan_loader(dataset, sampler: PlanSampler, batch_size: int = 1, **kwargs) -> PlanLoader:
    """``PlanLoader(dataset, sampler, batch_size, **DataLoader kwargs)``."""
    return PlanLoader(dataset, sampler, batch_size, **kwargs)
