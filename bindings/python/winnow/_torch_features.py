"""Per-sample factored gradient features of ``nn.Linear`` layers from hooks
and one batched backward pass (DESIGN 2.7). Imported by ``winnow.torch``.

For a linear layer ``y = x W^T + b`` a sample's weight gradient is
``G = D^T A``: ``A`` (``T x d_in``) are the layer's inputs at the sample's
tokens and ``D`` (``T x d_out``) the loss gradients at its outputs. A forward
hook keeps ``A`` and ``y``; one ``torch.autograd.grad`` of the **sum** of the
per-sample losses with respect to every captured ``y`` gives ``D`` for the
whole batch at once. Because the total is a sum and samples do not interact
(no BatchNorm in training mode, no cross-sample attention), the rows of
sample ``s`` in ``D`` are exactly the gradient of *its own* loss.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .factored import FactoredProjector


def layer_id(name: str) -> int:
    """The stable id of a module name: the first 8 bytes of its BLAKE2b
    digest, little-endian, with the top bit cleared (``0 <= id < 2**63``).

    Ids key the random matrices of ``FactoredProjector``, so the same
    module name gets the same projection in every run and process.
    """
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def _matches(layers, name: str, module: nn.Module) -> bool:
    if layers is None:
        return True
    if callable(layers):
        return bool(layers(name, module))
    patterns = [layers] if isinstance(layers, str) else list(layers)
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


@dataclass
class Capture:
    """One batch's factors, ready for ``FactoredProjector`` and the engine.

    Attributes:
        token_counts: ``S`` real-token counts (``int64``); every layer's
            factors have ``sum(token_counts)`` rows, sample-major.
        factors: ``[(A, D), ...]`` in the extractor's layer order,
            C-contiguous ``float32`` NumPy views of CPU tensors (no copy on
            the way into libwinnow). ``A`` is ``rows x d_in`` (plus a ones
            column for layers whose bias is included), ``D`` is
            ``rows x d_out``.
        losses: the ``S`` per-sample losses (``float32``).
    """

    token_counts: np.ndarray
    factors: list
    losses: np.ndarray

    @property
    def samples(self) -> int:
        return int(self.token_counts.size)


class FactoredFeatures:
    """Hooks on a model's ``nn.Linear`` layers that turn one batched backward
    pass into per-sample, Kronecker-factored projected gradient features.

    Example::

        fx = FactoredFeatures(model, layers="blocks.*", k_in=16, k_out=16)
        def losses(x, mask):                 # S per-sample losses, not their mean
            return per_token_nll(model(x, mask)).mul(mask).sum(1) / mask.sum(1)
        cap = fx.capture(losses, x, mask, mask=mask)
        engine.add_candidate_factors(ids, fx.projector, cap.token_counts,
                                     cap.factors, losses=cap.losses)

    Layer ``l`` (``l``-th matched module, in ``model.named_modules()`` order)
    has id ``layer_id(name)`` and contributes ``k_out * k_in`` features.

    Bias: with ``bias=True`` (the default) a layer with a bias gets a ones
    column appended to ``A`` (only at real tokens), so its factored gradient
    is ``[G_W | g_b]`` (``d_out x (d_in + 1)``) and the bias is projected with
    the weight; with ``bias=False`` biases are ignored.

    Masks: ``mask`` (``S x T``, nonzero = real token) drops the rows of
    masked positions in every layer whose input has ``T`` positions per
    sample; layers that see one vector per sample (2-D input, ``T = 1``)
    keep their row. The features equal those of the true per-sample gradient
    whenever masked positions receive no loss gradient (the loss ignores them
    and attention does not read them); otherwise they are the gradient
    restricted to real tokens. A module called several times in one forward
    (shared weights) contributes the tokens of every call.

    Not safe for concurrent use from several threads; one ``capture`` at a
    time.

    Args:
        model: the ``nn.Module``.
        layers: ``None`` (every ``nn.Linear``), a glob pattern or a list of
            them over qualified module names (``"blocks.*.mlp.*"``), or a
            callable ``(name, module) -> bool``.
        k_in, k_out: projection sizes per layer (features ``k_out * k_in``).
        seed, kind: the projector's seed and ``"rademacher"``/``"gaussian"``.
        bias: include biases (ones column) or ignore them.
    """

    def __init__(self, model: nn.Module, layers=None, *, k_in: int = 16, k_out: int = 16,
                 seed: int = 0, kind: str = "rademacher", bias: bool = True):
        self.model = model
        self.modules = [(name, m) for name, m in model.named_modules()
                        if isinstance(m, nn.Linear) and _matches(layers, name, m)]
        if not self.modules:
            raise ValueError(f"no nn.Linear module of the model matches {layers!r}")
        self.names = [name for name, _ in self.modules]
        self.bias = [bool(bias and m.bias is not None) for _, m in self.modules]
        self.ids = [layer_id(name) for name in self.names]
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("two layer names hash to the same id")
        self.dims = [(m.in_features + int(b), m.out_features)
                     for (_, m), b in zip(self.modules, self.bias)]
        self.projector = FactoredProjector(
            [(i, d_in, d_out, k_in, k_out) for i, (d_in, d_out) in zip(self.ids, self.dims)],
            seed=seed, kind=kind)
        #: ``sum(k_out * k_in)``: the engine's ``feature_dim``.
        self.feature_dim = self.projector.feature_dim
        self._calls: list[list] = []
        self._seed, self._kind = seed, kind
        self._single: list[FactoredProjector | None] = [None] * len(self.modules)

    # MARK: - Capture

    @contextlib.contextmanager
    def _hooks(self):
        """Forward hooks that record ``(input, output)`` of every call."""
        self._calls = [[] for _ in self.modules]
        handles = []
        for l, (_, module) in enumerate(self.modules):
            def hook(module, args, output, l=l):
                self._calls[l].append((args[0].detach(), output))
            handles.append(module.register_forward_hook(hook))
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def capture(self, loss_fn, *args, mask=None, **kwargs) -> Capture:
        """Runs ``loss_fn(*args, **kwargs)`` (``S`` per-sample losses) under
        the hooks, then one batched backward, and returns the factors.

        The backward is ``torch.autograd.grad`` with respect to the captured
        layer outputs only: parameters' ``.grad`` are left untouched and no
        weight gradient is formed.

        Args:
            loss_fn: returns a 1-D tensor of ``S`` per-sample losses.
            mask: ``S x T`` (bool or 0/1) real-token mask, or ``None``.
        """
        with self._hooks():
            losses = loss_fn(*args, **kwargs)
        calls, self._calls = self._calls, []
        if not isinstance(losses, torch.Tensor) or losses.dim() != 1:
            raise ValueError("loss_fn must return a 1-D tensor of per-sample losses")
        flat = [(l, x, y) for l, per_layer in enumerate(calls) for x, y in per_layer]
        missing = [self.names[l] for l, c in enumerate(calls) if not c]
        if missing:
            raise RuntimeError(f"layers not called in the forward pass: {missing}")
        grads = torch.autograd.grad(losses.sum(), [y for _, _, y in flat], allow_unused=True)
        samples = losses.shape[0]
        per_layer = [[] for _ in self.modules]
        for (l, x, y), g in zip(flat, grads):
            per_layer[l].append((x, torch.zeros_like(y) if g is None else g.detach()))
        rows = [self._rows(l, pairs, samples, mask) for l, pairs in enumerate(per_layer)]
        counts = torch.stack([c for c, _, _ in rows]).amax(0)
        factors = []
        for l, (c, a, d) in enumerate(rows):
            if not torch.equal(c, counts):
                a, d = _pad_rows(a, c, counts), _pad_rows(d, c, counts)
            factors.append((_numpy(a), _numpy(d)))
        return Capture(counts.numpy().astype(np.int64), factors,
                       losses.detach().float().cpu().numpy())

    def _rows(self, l: int, pairs, samples: int, mask):
        """One layer's ``(counts, A, D)``: real-token rows, sample-major,
        every call of the module concatenated along the token axis."""
        xs, gs = [], []
        for x, g in pairs:
            if x.dim() < 2 or x.shape[0] != samples:
                raise ValueError(f"layer {self.names[l]}: input of shape {tuple(x.shape)}; "
                                 f"expected {samples} samples first (S x d or S x T x d)")
            xs.append(x.reshape(samples, -1, x.shape[-1]))
            gs.append(g.reshape(samples, -1, g.shape[-1]))
        keep = []
        for x in xs:
            t = x.shape[1]
            if mask is None or t == 1:
                keep.append(torch.ones(samples, t, dtype=torch.bool, device=x.device))
            elif mask.shape == (samples, t):
                keep.append(mask.to(device=x.device, dtype=torch.bool))
            else:
                raise ValueError(f"layer {self.names[l]} sees {t} positions per sample but "
                                 f"the mask is {tuple(mask.shape)}")
        keep = torch.cat(keep, 1)
        a, d = torch.cat(xs, 1)[keep], torch.cat(gs, 1)[keep]
        if self.bias[l]:
            a = torch.cat([a, torch.ones_like(a[:, :1])], 1)
        return keep.sum(1).cpu(), a, d

    # MARK: - Features

    def project(self, capture: Capture) -> np.ndarray:
        """``S x feature_dim`` ``float32`` features of a capture."""
        return self.projector.project(capture.token_counts, capture.factors)

    def features(self, loss_fn, *args, mask=None, **kwargs) -> np.ndarray:
        """``capture`` then ``project``: ``S x feature_dim`` features."""
        return self.project(self.capture(loss_fn, *args, mask=mask, **kwargs))

    def add_candidates(self, engine, ids, loss_fn, *args, mask=None, **kwargs) -> np.ndarray:
        """Captures a batch and feeds it to ``engine`` as candidates ``ids``
        (with their losses); returns the losses."""
        cap = self.capture(loss_fn, *args, mask=mask, **kwargs)
        engine.add_candidate_factors(ids, self.projector, cap.token_counts, cap.factors,
                                     losses=cap.losses)
        return cap.losses

    def add_target(self, engine, task: int, loss_fn, *args, mask=None, **kwargs) -> None:
        """Captures target (validation) samples and adds one row each to
        ``task``: plain gradients, as LESS's targets."""
        cap = self.capture(loss_fn, *args, mask=mask, **kwargs)
        engine.add_target_factors(task, self.projector, cap.token_counts, cap.factors)

    # MARK: - Explicit gradients (exact Adam features, checks)

    def gradients(self, capture: Capture) -> list[torch.Tensor]:
        """Per layer, the ``S x d_out x d_in`` per-sample gradients ``D_s^T A_s``
        of a capture (materialized: ``4 S d_out d_in`` bytes per layer)."""
        counts = torch.from_numpy(capture.token_counts)
        width = int(counts.max()) if counts.numel() else 0
        out = []
        for a, d in capture.factors:
            a, d = torch.from_numpy(a), torch.from_numpy(d)
            out.append(torch.bmm(_padded(d, counts, width).transpose(1, 2),
                                 _padded(a, counts, width)))
        return out

    def project_gradients(self, gradients) -> np.ndarray:
        """Features of explicit per-sample gradients with the same ``P_in``
        and ``P_out``: ``gradients[l]`` is ``S x d_out x d_in`` (layer order;
        ``d_in`` includes the bias column when it is included).

        Each ``G_s`` goes in as factors ``A = G_s`` and ``D = I`` (``d_out``
        rows: ``D^T A = G_s``), one layer at a time through a one-layer
        projector with the same seed and id (hence the same matrices), so
        the projection is the library's, not a copy of it.
        """
        gradients = [torch.as_tensor(g).detach().float().cpu() for g in gradients]
        samples = gradients[0].shape[0]
        out = np.empty((samples, self.feature_dim), np.float32)
        for l, (g, (d_in, d_out)) in enumerate(zip(gradients, self.dims)):
            if tuple(g.shape) != (samples, d_out, d_in):
                raise ValueError(f"gradient of shape {tuple(g.shape)}; expected "
                                 f"{(samples, d_out, d_in)}")
            identity = torch.eye(d_out).repeat(samples, 1)
            columns = slice(self.projector.offsets[l],
                            self.projector.offsets[l] + self._layer_projector(l).feature_dim)
            out[:, columns] = self._layer_projector(l).project(
                np.full(samples, d_out, np.int64),
                [(_numpy(g.reshape(-1, d_in)), _numpy(identity))])
        return out

    def _layer_projector(self, l: int) -> FactoredProjector:
        """Layer ``l`` alone, with the matrices of ``self.projector``."""
        if self._single[l] is None:
            self._single[l] = FactoredProjector([self.projector.layers[l]], seed=self._seed,
                                                kind=self._kind)
        return self._single[l]

    def adam_features(self, capture: Capture, optimizer, beta1: float = 0.9,
                      beta2: float = 0.999, eps: float = 1e-8) -> np.ndarray:
        """LESS's training features (DESIGN 2.2), exact, for the captured layers.

        ``Gamma = m' / sqrt(v' + eps)`` with ``m' = beta1 m + (1 - beta1) G``,
        ``v' = beta2 v + (1 - beta2) G^2`` from ``optimizer``'s state
        (``exp_avg``, ``exp_avg_sq`` of ``torch.optim.Adam``/``AdamW``; zero
        before the first step), then projected as ``project_gradients``.

        The transform is elementwise on the full ``d_out x d_in`` gradient,
        so it does not factor through ``D^T A``: this path materializes each
        sample's gradient (``4 S d_out d_in`` bytes per layer, still from
        one batched backward). Use it for models whose layers fit; at LLM
        scale use the plain-gradient features (``project``).
        """
        transformed = []
        for (name, module), bias, g in zip(self.modules, self.bias, self.gradients(capture)):
            m, v = _adam_state(optimizer, module.weight)
            if bias:
                mb, vb = _adam_state(optimizer, module.bias)
                m = torch.cat([m, mb[:, None]], 1)
                v = torch.cat([v, vb[:, None]], 1)
            m1 = beta1 * m + (1 - beta1) * g
            v1 = beta2 * v + (1 - beta2) * g * g
            transformed.append(m1 / torch.sqrt(v1 + eps))
        return self.project_gradients(transformed)


def _adam_state(optimizer, parameter):
    """``(m, v)`` of one parameter as float32 CPU tensors (zeros if unset)."""
    state = optimizer.state.get(parameter, {}) if optimizer is not None else {}
    if "exp_avg" not in state:
        zero = torch.zeros(parameter.shape)
        return zero, zero
    return state["exp_avg"].detach().float().cpu(), state["exp_avg_sq"].detach().float().cpu()


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A C-contiguous float32 NumPy view of a CPU copy (a view when ``t``
    already is one)."""
    return t.detach().to(device="cpu", dtype=torch.float32).contiguous().numpy()


def _pad_rows(rows: torch.Tensor, counts: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Re-lays sample-major ``rows`` (``counts[s]`` per sample) into
    ``target[s] >= counts[s]`` rows per sample, zero-filled."""
    out = rows.new_zeros(int(target.sum()), rows.shape[1])
    sample = torch.repeat_interleave(torch.arange(counts.numel()), counts)
    start_in = torch.cumsum(counts, 0) - counts
    start_out = torch.cumsum(target, 0) - target
    position = torch.arange(int(counts.sum())) - start_in[sample]
    out[(start_out[sample] + position).to(rows.device)] = rows
    return out


def _padded(rows: torch.Tensor, counts: torch.Tensor, width: int) -> torch.Tensor:
    """Sample-major rows as an ``S x width x d`` zero-padded tensor."""
    full = torch.full_like(counts, width)
    return _pad_rows(rows, counts, full).reshape(counts.numel(), width, rows.shape[1])
