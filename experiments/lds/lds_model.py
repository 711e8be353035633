"""The LDS task: data, ByteLM's linear-layer factors, and cheap retraining.

ByteLM (``winnow_experiments.models``) has two linear layers:

* ``hidden``: the concatenated context embeddings (``c·e`` values) → ``H``
  pre-activations (``W1``, ``b1``);
* ``output``: the ``tanh`` units (``H``) → 256 logits (``W2``, ``b2``).

For each, one text's per-token factors are ``A`` (the layer's inputs with a
constant 1 appended, so the bias is the last input column) and ``D`` (the
gradient of the text's mean loss wrt the layer's outputs). The text's weight
gradient is ``G = Dᵀ A`` (``d_out × (d_in+1)``): exactly ``W1ᵀ|b1`` and
``W2ᵀ|b2`` of ``ByteLM.per_sample_grads`` (checked in ``test_lds.py``). Every
method of this experiment scores these two layers (the embedding table is
left out: it is not a linear layer, so K-FAC has no factors for it); the flat
gradient is the two ``G`` row-major, hidden first — the layout of
``winnow.Curvature.features``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from winnow_experiments import data, models

F32 = np.float32


@dataclass
class Task:
    """A pool, a target set and the model shape."""

    X: np.ndarray          # pool bytes, N × L (uint8)
    lengths: np.ndarray    # N
    pool_domain: np.ndarray
    target_X: np.ndarray
    target_lengths: np.ndarray
    target: str
    hidden: int
    max_len: int


def make_task(pool: int, targets: int, target: str = "cs", max_len: int = 64,
              hidden: int = 64, split_seed: int = 1234) -> Task:
    """``pool`` texts drawn uniformly from every domain except ``targets``
    held-out texts of the ``target`` domain (which are never in the pool)."""
    c = data.load_corpus()
    d = c.domain_index(target)
    rng = np.random.default_rng(split_seed)
    in_domain = np.flatnonzero(c.domain == d)
    held = rng.choice(in_domain, targets, replace=False)
    rest = np.setdiff1d(np.arange(len(c)), held)
    chosen = np.sort(rng.choice(rest, pool, replace=False))
    X, L = data.encode_bytes([c.texts[i] for i in chosen], max_len)
    TX, TL = data.encode_bytes([c.texts[i] for i in held], max_len)
    return Task(X, L, c.domain[chosen], TX, TL, target, hidden, max_len)


def new_model(task: Task, init_seed: int = 0) -> models.ByteLM:
    return models.ByteLM(hidden=task.hidden, seed=init_seed)


def layer_dims(model: models.ByteLM) -> list[tuple[int, int, int]]:
    """``(layer_id, d_in, d_out)`` of the two linear layers (bias column included)."""
    return [(0, model.c * model.e + 1, model.h), (1, model.h + 1, 256)]


def factors(model: models.ByteLM, X: np.ndarray, lengths: np.ndarray, sample_labels=None):
    """Per-token factors of a batch of texts.

    Returns ``(token_counts, [(A_hidden, D_hidden), (A_output, D_output)], losses)``:
    every factor has ``sum(lengths)`` rows, text ``s`` owning the rows after
    texts ``0..s-1`` (the layout of ``winnow.FactoredProjector`` and
    ``winnow.Curvature``). ``D`` is the gradient of each text's *mean* loss.

    ``sample_labels``: a ``numpy.random.Generator`` draws the next bytes from
    the model's own distribution instead of taking the true ones (the true
    Fisher, as kronfluence fits its covariances); ``None`` uses the data.
    """
    L = int(lengths.max())
    X = X[:, :L]
    mask = np.arange(L)[None, :] < lengths[:, None]
    ctx = model.contexts(X)[mask]                      # P × c
    emb, h, logp = model._forward(ctx)
    p = np.exp(logp)
    if sample_labels is None:
        tgt = X[mask].astype(np.int64)
    else:
        u = sample_labels.random((len(p), 1))
        tgt = np.minimum((p.cumsum(1) < u).sum(1), 255)
    P = len(tgt)
    per_token = 1.0 / np.repeat(lengths, lengths).astype(F32)   # d(mean loss)/d(token loss)
    nll = -logp[np.arange(P), tgt]
    losses = np.add.reduceat(nll * per_token, np.r_[0, np.cumsum(lengths)[:-1]])
    d_out = p
    d_out[np.arange(P), tgt] -= 1
    d_out *= per_token[:, None]
    d_hid = (d_out @ model.view("W2").T) * (1 - h * h)
    ones = np.ones((P, 1), F32)
    pairs = [(np.hstack([emb, ones]).astype(F32), d_hid.astype(F32)),
             (np.hstack([h, ones]).astype(F32), d_out.astype(F32))]
    return lengths.astype(np.int64), pairs, losses.astype(F32)


def gradients_from_factors(token_counts, pairs) -> np.ndarray:
    """Each text's flat gradient ``[vec(G_hidden), vec(G_output)]``, ``G = Dᵀ A``
    (row-major ``d_out × d_in``): ``S × Σ d_out·d_in`` float32."""
    starts = np.r_[0, np.cumsum(token_counts)]
    S = len(token_counts)
    dim = sum(a.shape[1] * d.shape[1] for a, d in pairs)
    out = np.empty((S, dim), F32)
    for s in range(S):
        a_, b_ = starts[s], starts[s + 1]
        out[s] = np.concatenate([(d[a_:b_].T @ a[a_:b_]).ravel() for a, d in pairs])
    return out


def chunked(model, X, lengths, chunk=256, **kw):
    """``factors`` over chunks of texts: yields ``(slice, token_counts, pairs, losses)``."""
    for s in range(0, len(X), chunk):
        sl = slice(s, min(s + chunk, len(X)))
        yield (sl,) + factors(model, X[sl], lengths[sl], **kw)


def train(task: Task, subset: np.ndarray | None, init_seed: int, order_seed: int,
          epochs: int, lr: float = 3e-3, batch: int = 32):
    """A fresh model from init ``init_seed`` trained with Adam on ``subset``
    of the pool (every text when ``None``) for ``epochs`` epochs, batches
    shuffled by ``order_seed``. Deterministic given its arguments.
    Returns ``(model, adam)``."""
    m = new_model(task, init_seed)
    ix = np.arange(len(task.X)) if subset is None else np.asarray(subset)
    opt = m.fit(task.X[ix], task.lengths[ix], epochs=epochs, lr=lr, batch=batch, seed=order_seed)
    return m, opt


def target_losses(model: models.ByteLM, task: Task) -> np.ndarray:
    """Each target text's mean loss (nats per byte)."""
    return model.per_sample_losses(task.target_X, task.target_lengths)


def target_loss(model: models.ByteLM, task: Task) -> float:
    """The target set's mean per-text loss (nats per byte, texts weighted equally) —
    the quantity whose gradient the scores use."""
    return float(model.per_sample_losses(task.target_X, task.target_lengths).mean())
