"""Two small NumPy models whose per-sample gradients are computed exactly.

* ``ByteLM``: a context-window MLP language model over bytes (Bengio et al.
  2003 in miniature): the previous ``c`` bytes are embedded, concatenated,
  passed through one ``tanh`` layer, and a softmax over 256 bytes predicts
  the next one. A text's loss is the mean over its positions; its exact
  gradient is a sum of outer products, formed for a whole chunk of texts at
  once with batched matrix products (no Python loop per sample).
* ``SoftmaxClassifier``: multinomial logistic regression on dense features;
  the per-sample gradient is ``x ⊗ (p − y)``.

Parameters live in one flat float32 vector (``D`` values) with named views, so
an optimizer state and a per-sample gradient have the same layout.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
BOS = 256  # the context symbol before a text's first byte


class Adam:
    """Adam (Kingma & Ba) on a flat vector; ``m`` and ``v`` are kept without
    bias correction so that LESS's feature transform can read them as is."""

    def __init__(self, size: int, lr: float, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.m = np.zeros(size, F32)
        self.v = np.zeros(size, F32)
        self.t = 0

    def step(self, theta: np.ndarray, g: np.ndarray) -> None:
        self.t += 1
        self.m *= self.b1
        self.m += (1 - self.b1) * g
        self.v *= self.b2
        self.v += (1 - self.b2) * (g * g)
        mhat = self.m / (1 - self.b1**self.t)
        vhat = self.v / (1 - self.b2**self.t)
        theta -= (self.lr * mhat / (np.sqrt(vhat) + self.eps)).astype(F32)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class ByteLM:
    """Context-window MLP byte LM: ``c`` context bytes → ``e``-dim embeddings
    → ``H`` tanh units → 256 logits. ``D = 257·e + c·e·H + H + 256·H + 256``."""

    def __init__(self, context=4, embed=16, hidden=128, seed=0):
        self.c, self.e, self.h = context, embed, hidden
        shapes = [("E", (257, embed)), ("W1", (context * embed, hidden)), ("b1", (hidden,)),
                  ("W2", (hidden, 256)), ("b2", (256,))]
        self.slices, off = {}, 0
        for name, shape in shapes:
            n = int(np.prod(shape))
            self.slices[name] = (off, off + n, shape)
            off += n
        self.size = off
        rng = np.random.default_rng(seed)
        self.theta = np.zeros(self.size, F32)
        self.view("E")[:] = rng.normal(0, 0.3, (257, embed))
        self.view("W1")[:] = rng.normal(0, 1 / np.sqrt(context * embed), (context * embed, hidden))
        self.view("W2")[:] = rng.normal(0, 1 / np.sqrt(hidden), (hidden, 256))

    def view(self, name: str, vec: np.ndarray | None = None) -> np.ndarray:
        """The named block of ``vec`` (default: the parameters), reshaped; a
        ``B × D`` matrix gives ``B ×`` the block's shape."""
        a, b, shape = self.slices[name]
        v = self.theta if vec is None else vec
        return v[..., a:b].reshape(v.shape[:-1] + shape)

    # -- data layout -----------------------------------------------------
    def contexts(self, X: np.ndarray) -> np.ndarray:
        """``B × L`` bytes → ``B × L × c`` context symbols (``BOS`` before the start)."""
        B, L = X.shape
        pad = np.full((B, L + self.c), BOS, np.int16)
        pad[:, self.c:] = X
        return np.lib.stride_tricks.sliding_window_view(pad, self.c, axis=1)[:, :L]

    def _forward(self, ctx, theta=None):
        E, W1, b1, W2, b2 = (self.view(n, theta) for n in ("E", "W1", "b1", "W2", "b2"))
        emb = E[ctx].reshape(ctx.shape[:-1] + (self.c * self.e,))
        h = np.tanh(emb @ W1 + b1)
        logp = _log_softmax(h @ W2 + b2)
        return emb, h, logp

    # -- training --------------------------------------------------------
    def loss_and_grad(self, X, lengths, weights=None):
        """Mean (weighted) next-byte loss in nats over the valid positions of a
        batch, and its gradient (``D``). Positions are flattened, so padding
        costs nothing."""
        B, L = X.shape
        mask = np.arange(L)[None, :] < lengths[:, None]
        ctx = self.contexts(X)[mask]  # P × c
        tgt = X[mask].astype(np.int64)
        w = np.ones(len(tgt), F32) if weights is None else np.repeat(
            weights.astype(F32), lengths)
        emb, h, logp = self._forward(ctx)
        P = len(tgt)
        nll = -logp[np.arange(P), tgt]
        d = np.exp(logp)
        d[np.arange(P), tgt] -= 1
        d *= (w / P)[:, None]
        return float((w * nll).sum() / P), self._backward(ctx, emb, h, d)

    def _backward(self, ctx, emb, h, d):
        g = np.empty(self.size, F32)
        W1, W2 = self.view("W1"), self.view("W2")
        self.view("W2", g)[:] = h.T @ d
        self.view("b2", g)[:] = d.sum(0)
        dpre = (d @ W2.T) * (1 - h * h)
        self.view("W1", g)[:] = emb.T @ dpre
        self.view("b1", g)[:] = dpre.sum(0)
        demb = (dpre @ W1.T).reshape(-1, self.e)
        idx = (ctx.reshape(-1).astype(np.int64)[:, None] * self.e + np.arange(self.e)).ravel()
        self.view("E", g)[:] = np.bincount(
            idx, weights=demb.ravel(), minlength=257 * self.e).reshape(257, self.e)
        return g

    def fit(self, X, lengths, epochs, lr=3e-3, batch=32, weights=None, seed=0,
            on_epoch=None, opt=None, steps=None):
        """Adam over shuffled mini-batches for ``epochs`` epochs, or for exactly
        ``steps`` steps when given (as many passes as that takes);
        ``on_epoch(epoch, opt)`` runs after each full epoch (checkpoints, engine
        calls). Returns the optimizer."""
        opt = opt or Adam(self.size, lr)
        rng = np.random.default_rng(seed)
        n, done, ep = len(X), 0, 0
        while (steps is None and ep < epochs) or (steps is not None and done < steps):
            order = rng.permutation(n)
            for s in range(0, n, batch):
                if steps is not None and done >= steps:
                    break
                ix = order[s:s + batch]
                Lb = int(lengths[ix].max())
                _, g = self.loss_and_grad(X[ix, :Lb], lengths[ix],
                                          None if weights is None else weights[ix])
                opt.step(self.theta, g)
                done += 1
            if on_epoch is not None:
                on_epoch(ep, opt)
            ep += 1
        return opt

    # -- evaluation and per-sample gradients -----------------------------
    def per_sample_losses(self, X, lengths, chunk=512):
        """Mean loss (nats per byte) of each text and the total nats (``N``, float)."""
        out = np.empty(len(X), np.float64)
        for s in range(0, len(X), chunk):
            Xb, lb = X[s:s + chunk], lengths[s:s + chunk]
            Lb = int(lb.max())
            Xb = Xb[:, :Lb]
            mask = np.arange(Lb)[None, :] < lb[:, None]
            _, _, logp = self._forward(self.contexts(Xb))
            nll = -np.take_along_axis(logp, Xb[..., None].astype(np.int64), -1)[..., 0]
            out[s:s + chunk] = (nll * mask).sum(1) / lb
        return out

    def bits_per_byte(self, X, lengths) -> float:
        """Held-out bits per byte, every byte of every text counted once."""
        per = self.per_sample_losses(X, lengths)
        return float((per * lengths).sum() / lengths.sum() / np.log(2))

    def per_sample_grads(self, X, lengths):
        """Exact gradient of each text's mean loss: ``B × D`` float32, and the
        losses (``B``). Memory ``O(B·(L·256 + D))``: call it on chunks."""
        B, L0 = X.shape
        L = int(lengths.max())
        X = X[:, :L]
        ctx = self.contexts(X)
        emb, h, logp = self._forward(ctx)
        mask = (np.arange(L)[None, :] < lengths[:, None]).astype(F32)
        tgt = X[..., None].astype(np.int64)
        loss = -(np.take_along_axis(logp, tgt, -1)[..., 0] * mask).sum(1) / lengths
        d = np.exp(logp)
        np.put_along_axis(d, tgt, np.take_along_axis(d, tgt, -1) - 1, -1)
        d *= (mask / lengths[:, None])[..., None]
        G = np.empty((B, self.size), F32)
        W1, W2 = self.view("W1"), self.view("W2")
        ht = h.transpose(0, 2, 1)
        self.view("W2", G)[:] = ht @ d
        self.view("b2", G)[:] = d.sum(1)
        dpre = (d @ W2.T) * (1 - h * h)
        self.view("W1", G)[:] = emb.transpose(0, 2, 1) @ dpre
        self.view("b1", G)[:] = dpre.sum(1)
        demb = (dpre @ W1.T).reshape(B, -1, self.e)  # B × (L·c) × e
        flat = (np.arange(B)[:, None] * 257 + ctx.reshape(B, -1).astype(np.int64))
        idx = (flat[..., None] * self.e + np.arange(self.e)).ravel()
        self.view("E", G)[:] = np.bincount(idx, weights=demb.ravel(),
                                           minlength=B * 257 * self.e).reshape(B, 257, self.e)
        return G, loss


class SoftmaxClassifier:
    """Multinomial logistic regression: ``W`` (``F × C``) and ``b`` (``C``);
    ``D = F·C + C``."""

    def __init__(self, features: int, classes: int):
        self.f, self.k = features, classes
        self.size = features * classes + classes
        self.theta = np.zeros(self.size, F32)

    def _split(self):
        return self.theta[: self.f * self.k].reshape(self.f, self.k), self.theta[self.f * self.k:]

    def probs(self, X):
        W, b = self._split()
        return np.exp(_log_softmax(X @ W + b))

    def accuracy(self, X, y) -> float:
        return float((self.probs(X).argmax(1) == y).mean())

    def per_sample_grads(self, X, y):
        """``B × D`` exact gradients of each sample's cross-entropy, and the losses."""
        p = self.probs(X)
        loss = -np.log(np.maximum(p[np.arange(len(y)), y], 1e-12))
        p[np.arange(len(y)), y] -= 1
        G = np.empty((len(y), self.size), F32)
        G[:, : self.f * self.k] = (X[:, :, None] * p[:, None, :]).reshape(len(y), -1)
        G[:, self.f * self.k:] = p
        return G, loss

    def grad(self, X, y, w):
        """Gradient of ``Σ w_i ℓ_i / B`` (``D``)."""
        p = self.probs(X)
        p[np.arange(len(y)), y] -= 1
        p *= (w / len(y))[:, None]
        g = np.empty(self.size, F32)
        g[: self.f * self.k] = (X.T @ p).ravel()
        g[self.f * self.k:] = p.sum(0)
        return g

    def train_epoch(self, opt, X, y, w, rng, batch=64):
        order = rng.permutation(len(y))
        for s in range(0, len(y), batch):
            ix = order[s:s + batch]
            opt.step(self.theta, self.grad(X[ix], y[ix], w[ix]))
