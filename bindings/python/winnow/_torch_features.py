"""Per-sample factored gradient features of a model's linear layers from
hooks and one batched backward pass (DESIGN 2.7, 2.10). Imported by
``winnow.torch``.

For a linear layer a sample's weight gradient is ``G = D^T A``: ``A``
(``T x d_in``) are the layer's inputs at the sample's tokens and ``D``
(``T x d_out``) the loss gradients at its outputs. A forward hook sees ``A``
and wraps the output in a tap (``_torch_device.Tap``); one
``torch.autograd.grad`` of the **sum** of the per-sample losses runs every
tap's backward, which receives ``D`` for the whole batch. Because the total
is a sum and samples do not interact (no BatchNorm in training mode, no
cross-sample attention), the rows of sample ``s`` in ``D`` are exactly the
gradient of *its own* loss.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import _torch_curvature as kfac
from ._torch_device import PATHS, DeviceStage, MatrixCache, Tap, plan_path
from ._torch_explicit import ExplicitGradients, numpy32, pad_rows
from ._torch_layers import find_layers, layer_id  # noqa: F401  (layer_id is public)
from .factored import FactoredProjector

REENTRANT = (
    "layer {name} ran without autograd inside the capture: reentrant gradient "
    "checkpointing (torch.utils.checkpoint with use_reentrant=True; in transformers "
    "call activation_checkpointing_enable({{'use_reentrant': False}}), or "
    "gradient_checkpointing_enable(gradient_checkpointing_kwargs={{'use_reentrant': "
    "False}})) or a torch.no_grad() block inside loss_fn. Use "
    "non-reentrant checkpointing: the hooks need the forward pass's graph")
ZERO = (
    "winnow.torch: layers {names} gave all-zero features for this batch: their output "
    "gradients are zero. A fresh LoRA adapter has lora_B = 0, so every lora_A layer's "
    "gradient is zero until the first optimizer step. Take features from a warmed-up "
    "adapter (LESS trains on a small random subset first), or choose only the lora_B "
    "layers (layers='*lora_B*'); selecting on all-zero features selects at random")


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


class FactoredFeatures(ExplicitGradients):
    """Hooks on a model's linear layers that turn one batched backward pass
    into per-sample, Kronecker-factored projected gradient features.

    Example::

        fx = FactoredFeatures(model, k_in=16, k_out=16)   # a PeftModel: its LoRA layers
        def losses(x, mask):                 # S per-sample losses, not their mean
            return per_token_nll(model(x, mask)).mul(mask).sum(1) / mask.sum(1)
        phi = fx.features(losses, x, mask, mask=mask)      # S x feature_dim, on the host
        fx.add_candidates(engine, ids, losses, x, mask, mask=mask)

    ``features``, ``add_candidates`` and ``add_target`` run the first stage
    on the model's device: ``A P_in`` in the forward hook, ``D P_out`` and
    ``(D P_out)^T (A P_in)`` as the backward pass reaches each layer, with
    libwinnow's own matrices (``winnow.factor_matrix``, fetched once per
    layer and side, cached per device), so only ``S x feature_dim`` float32
    features reach the host, and they equal ``project(capture(...))``.
    ``capture`` instead returns the factors themselves on the CPU (for
    ``adam_features`` and the library's factored calls): ``4 T (d_in + d_out)``
    bytes per layer and sample.

    Layers (``_torch_layers``): ``nn.Linear``, transformers' ``Conv1D``,
    peft LoRA's ``lora_A``/``lora_B`` Linears, ``nn.Embedding`` with
    ``embeddings=True``. ``layers=None`` takes every supported layer whose
    weight is trainable (on a ``PeftModel``: exactly the adapters). Layer
    ``l`` has id ``layer_id(name)`` and ``k_out * k_in`` features.

    Paths: per layer, ``"factored"`` or ``"materialized"`` (form ``G_s``,
    then project; cheaper when ``k_in`` is close to ``d_in``), chosen by
    flops for the batch's shape (``plan``), or forced with ``path``; the
    choice of the last batch is ``paths``. Both give the same features.

    Bias: with ``bias=True`` (the default) a layer with a bias gets a ones
    column appended to ``A`` (only at real tokens), so its factored gradient
    is ``[G_W | g_b]`` (``d_out x (d_in + 1)``); with ``bias=False`` biases
    are ignored.

    Masks: ``mask`` (``S x T``, nonzero = real token) drops masked positions
    in every layer whose input has ``T`` positions per sample; layers that
    see one vector per sample keep their row. The features equal those of
    the true per-sample gradient whenever masked positions receive no loss
    gradient; otherwise they are the gradient restricted to real tokens. A
    module called several times in one forward contributes every call.

    Not safe for concurrent use from several threads; one capture at a time.

    Args:
        model: the ``nn.Module``.
        layers: ``None``, a glob pattern or a list of them over qualified
            module names (``"*.mlp.*"``), or a callable ``(name, module) -> bool``.
        k_in, k_out: projection sizes per layer (features ``k_out * k_in``).
        seed, kind: the projector's seed and ``"rademacher"``/``"gaussian"``.
        bias: include biases (ones column) or ignore them.
        embeddings: also accept ``nn.Embedding`` layers.
        path: ``"auto"``, ``"factored"`` or ``"materialized"`` for every layer.
    """

    def __init__(self, model: nn.Module, layers=None, *, k_in: int = 16, k_out: int = 16,
                 seed: int = 0, kind: str = "rademacher", bias: bool = True,
                 embeddings: bool = False, path: str = "auto"):
        if path not in PATHS:
            raise ValueError(f"path must be one of {PATHS}, got {path!r}")
        self.model = model
        #: The projected layers (``_torch_layers.Layer``), in feature order.
        self.layers = find_layers(model, layers, embeddings, bias)
        self.modules = [(layer.name, layer.module) for layer in self.layers]
        self.names = [layer.name for layer in self.layers]
        self.bias = [layer.bias for layer in self.layers]
        self.ids = [layer.id for layer in self.layers]
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("two layer names hash to the same id")
        self.dims = [(layer.d_in, layer.d_out) for layer in self.layers]
        self.projector = FactoredProjector(
            [(i, d_in, d_out, k_in, k_out) for i, (d_in, d_out) in zip(self.ids, self.dims)],
            seed=seed, kind=kind)
        #: ``sum(k_out * k_in)``: the engine's ``feature_dim``.
        self.feature_dim = self.projector.feature_dim
        self.k_in, self.k_out, self.path = k_in, k_out, path
        #: Bytes the device path has copied to the host (features and losses).
        self.host_bytes = 0
        #: The ``LayerPlan`` of each layer for the last batch.
        self.plans: list = []
        self._seed, self._kind = seed, kind
        self._cache = MatrixCache(seed, kind)
        #: The ``winnow.Curvature`` whitening the features, or ``None``.
        self.curvature = None
        self._whitening = None  # (damping, absolute) of set_curvature
        self._single: list[FactoredProjector | None] = [None] * len(self.layers)
        self._recording = False

    @property
    def on_accelerator(self) -> bool:
        """Whether a chosen layer's parameters live off the CPU: there the
        first stage runs on the device; on the CPU, libwinnow's kernels
        project the factors faster than PyTorch's matmuls."""
        return any(p.device.type != "cpu" for _, m in self.modules
                   for p in m.parameters(recurse=False))

    @property
    def paths(self) -> dict:
        """``{name: "factored" | "materialized"}`` of the last batch."""
        return {p.name: p.path for p in self.plans}

    def plan(self, samples: int, tokens: int, dtype=torch.float32) -> list:
        """The ``LayerPlan`` (path, flops and device bytes of both paths) each
        layer gets for ``samples`` samples of ``tokens`` positions."""
        element = torch.empty((), dtype=dtype).element_size()
        return [plan_path(layer, self.k_in, self.k_out, samples, tokens, element, self.path)
                for layer in self.layers]

    # MARK: - The hooks and the backward pass

    @contextlib.contextmanager
    def _hooks(self, forward, backward, mask):
        """Forward hooks that hand each call's ``(x, keep)`` to ``forward`` and
        tap its output for ``backward``, while ``loss_fn`` runs."""
        anchor = []  # one scalar leaf, made on the first output's device
        calls = [0] * len(self.layers)

        def hook(module, args, output, l):
            if not self._recording:  # a checkpointed forward recomputed in backward
                return None
            if not torch.is_grad_enabled():
                raise RuntimeError(REENTRANT.format(name=self.names[l]))
            x, keep = self._inputs(l, args[0].detach(), mask)
            call, calls[l] = calls[l], calls[l] + 1
            forward(l, call, x, keep)
            if not anchor:
                anchor.append(torch.zeros((), device=output.device, requires_grad=True))
            return Tap.apply(output, anchor[0], backward, l, call)

        handles = [m.register_forward_hook(lambda m, a, o, l=l: hook(m, a, o, l))
                   for l, (_, m) in enumerate(self.modules)]
        self._recording = True
        try:
            yield anchor, calls
        finally:
            self._recording = False
            for h in handles:
                h.remove()

    def _run(self, forward, backward, loss_fn, args, kwargs, mask) -> torch.Tensor:
        """Runs ``loss_fn`` under the hooks and one backward; returns the losses."""
        if not torch.is_grad_enabled() or torch.is_inference_mode_enabled():
            raise RuntimeError("winnow.torch needs autograd: the capture was called under "
                               "torch.no_grad() or torch.inference_mode(); call it outside")
        with self._hooks(forward, backward, mask) as (anchor, calls):
            losses = loss_fn(*args, **kwargs)
        if not isinstance(losses, torch.Tensor) or losses.dim() != 1:
            shape = tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses)
            raise ValueError(
                f"loss_fn returned {shape}; it must return a 1-D tensor of per-sample losses "
                "(reduction='none', then a mean over each sample's tokens), not the batch mean: "
                "a mean mixes the samples' gradients")
        missing = [self.names[l] for l, c in enumerate(calls) if c == 0]
        if missing:
            raise RuntimeError(f"layers not called in the forward pass: {missing}")
        if not losses.requires_grad:
            raise RuntimeError("the losses do not depend on any chosen layer through autograd")
        torch.autograd.grad(losses.sum(), anchor[0], allow_unused=True)
        return losses.detach()

    def _inputs(self, l: int, x: torch.Tensor, mask):
        """``(x, keep)``: ``x`` as ``S x T x d`` (``S x T`` ids for an
        embedding) and the ``S x T`` real-token mask."""
        layer = self.layers[l]
        if layer.kind == "embedding":
            x = x.reshape(x.shape[0], -1) if x.dim() else x
        elif x.dim() >= 2:
            x = x.reshape(x.shape[0], -1, x.shape[-1])
        if x.dim() < 2:
            raise ValueError(f"layer {layer.name}: input of shape {tuple(x.shape)}; "
                             "expected samples first (S x d or S x T x d)")
        samples, t = x.shape[0], x.shape[1]
        if mask is None or t == 1:
            return x, torch.ones(samples, t, dtype=torch.bool, device=x.device)
        if tuple(mask.shape) != (samples, t):
            raise ValueError(f"layer {layer.name} sees {t} positions per sample but "
                             f"the mask is {tuple(mask.shape)}")
        return x, mask.to(device=x.device, dtype=torch.bool)

    # MARK: - Features on the device

    def features(self, loss_fn, *args, mask=None, **kwargs) -> np.ndarray:
        """``S x feature_dim`` ``float32`` features of a batch, projected on
        the model's device (see the class notes)."""
        return self._device_features(loss_fn, args, kwargs, mask)[0]

    def _stage(self):
        """``(stage, plans, forward)``: one batch's ``DeviceStage``, its layer
        plans, and the per-call ``forward`` that plans each layer's path on
        its first call (for that layer's own positions per sample)."""
        plans = [None] * len(self.layers)
        stage = DeviceStage(self.layers, plans, self._cache, self.k_in, self.k_out)

        def forward(l, call, x, keep):
            if plans[l] is None:
                element = x.element_size() if x.is_floating_point() else 4
                plans[l] = plan_path(self.layers[l], self.k_in, self.k_out, x.shape[0],
                                     x.shape[1], element, self.path)
            stage.forward(l, call, x, keep)

        return stage, plans, forward

    def _stage_blocks(self, stage: DeviceStage, samples: int, device, expected: str) -> list:
        """Each layer's ``S x k_out*k_in`` features from ``stage``; a layer no
        gradient reached has a zero gradient. ``expected`` says where
        ``samples`` came from, for the error when the layers saw another count."""
        blocks = []
        for f in stage.features:
            if f is None:
                f = torch.zeros(samples, self.k_in * self.k_out, device=device)
            if f.shape[0] != samples:
                raise ValueError(f"the layers saw {f.shape[0]} samples, {expected}")
            blocks.append(f)
        return blocks

    def _device_features(self, loss_fn, args, kwargs, mask):
        stage, plans, forward = self._stage()
        losses = self._run(forward, stage.backward, loss_fn, args, kwargs, mask)
        self.plans = plans
        samples = losses.shape[0]
        blocks = self._stage_blocks(stage, samples, losses.device,
                                    f"loss_fn returned {samples} losses")
        zero = [n for n, f in zip(self.names, blocks) if not bool(f.any())]
        features = torch.cat(blocks, 1).cpu().numpy()
        losses = losses.float().cpu().numpy()
        self.host_bytes += features.nbytes + losses.nbytes
        if zero:
            warnings.warn(ZERO.format(names=zero if len(zero) <= 4 else
                                      f"{zero[:4]} and {len(zero) - 4} more"),
                          RuntimeWarning, stacklevel=3)
        return features, losses

    def add_candidates(self, engine, ids, loss_fn, *args, mask=None, **kwargs) -> np.ndarray:
        """Features of a batch (on the device) fed to ``engine`` as candidates
        ``ids`` with their losses; returns the losses."""
        features, losses = self._device_features(loss_fn, args, kwargs, mask)
        engine.add_candidates(ids, features, losses=losses)
        return losses

    def add_target(self, engine, task: int, loss_fn, *args, mask=None, **kwargs) -> None:
        """Adds target (validation) samples to ``task``, one row each: plain
        gradients, as LESS's targets."""
        engine.add_target(task, self._device_features(loss_fn, args, kwargs, mask)[0])

    # MARK: - Factors on the CPU

    def capture(self, loss_fn, *args, mask=None, **kwargs) -> Capture:
        """Runs ``loss_fn(*args, **kwargs)`` (``S`` per-sample losses) under
        the hooks, then one batched backward, and returns the factors on the
        CPU as float32.

        The backward forms no parameter gradient: ``.grad`` is left untouched.

        Args:
            loss_fn: returns a 1-D tensor of ``S`` per-sample losses.
            mask: ``S x T`` (bool or 0/1) real-token mask, or ``None``.
        """
        calls = [[] for _ in self.layers]
        grads: dict = {}
        losses = self._run(lambda l, c, x, keep: calls[l].append((x, keep)),
                           lambda l, c, g: grads.__setitem__((l, c), g),
                           loss_fn, args, kwargs, mask)
        samples = losses.shape[0]
        rows = [self._rows(l, [(x, keep, grads.get((l, c))) for c, (x, keep) in enumerate(cs)],
                           samples) for l, cs in enumerate(calls)]
        counts = torch.stack([c for c, _, _ in rows]).amax(0)
        factors = []
        for c, a, d in rows:
            if not torch.equal(c, counts):
                a, d = pad_rows(a, c, counts), pad_rows(d, c, counts)
            factors.append((numpy32(a), numpy32(d)))
        return Capture(counts.numpy().astype(np.int64), factors,
                       losses.float().cpu().numpy())

    def _rows(self, l: int, calls, samples: int):
        """One layer's ``(counts, A, D)``: real-token rows, sample-major,
        every call of the module concatenated along the token axis."""
        layer = self.layers[l]
        xs, gs, keeps = [], [], []
        for x, keep, g in calls:
            if x.shape[0] != samples:
                raise ValueError(f"layer {layer.name}: input of shape {tuple(x.shape)}; "
                                 f"expected {samples} samples first (S x d or S x T x d)")
            if layer.kind == "embedding":
                if layer.padding_idx is not None:
                    keep = keep & (x != layer.padding_idx)
                x = nn.functional.one_hot(x, layer.d_in).float()
            g = torch.zeros(*x.shape[:2], layer.d_out, device=x.device) if g is None else g
            xs.append(x.float())
            gs.append(g.reshape(samples, -1, g.shape[-1]).float())
            keeps.append(keep)
        keep = torch.cat(keeps, 1)
        a, d = torch.cat(xs, 1)[keep], torch.cat(gs, 1)[keep]
        if layer.bias:
            a = torch.cat([a, torch.ones_like(a[:, :1])], 1)
        return keep.sum(1).cpu(), a, d

    def project(self, capture: Capture) -> np.ndarray:
        """``S x feature_dim`` ``float32`` features of a capture, by libwinnow
        on the CPU (K-FAC-whitened first when a curvature is set)."""
        projector = self.projector if self.curvature is None else self._whitened
        return projector.project(capture.token_counts, capture.factors)

    # MARK: - K-FAC / EK-FAC (DESIGN 2.9)

    def fit_curvature(self, loss_fn, batches, *, ekfac=False, progress=None):
        """Fits a ``winnow.Curvature`` (K-FAC; with ``ekfac`` also the EK-FAC
        corrections, a second pass) on the chosen layers from ``capture`` of
        each batch of the fit set. ``ekfac`` is ``True`` (every layer), or a
        glob or list of globs over layer names: EK-FAC where it is affordable
        (``Curvature.costs``), K-FAC for the rest.

        Args:
            loss_fn: returns ``S`` per-sample losses, as for ``capture``.
            batches: the fit set, iterable twice for EK-FAC (a list or a
                DataLoader); each batch is a tuple (positional arguments of
                ``loss_fn``), a dict (keyword arguments; ``mask`` is the
                token mask) or one tensor.
            progress: optional ``callback(pass_name, samples_so_far)``.
        Returns the fitted ``Curvature``; ``save`` it to reuse it.
        """
        return kfac.fit(self, loss_fn, batches, ekfac, progress)

    def set_curvature(self, curvature, damping: float = 0.1, absolute: bool = False) -> None:
        """Whitens every feature from now on with ``curvature`` (K-FAC, the
        damping per factor: ``l_X = damping * mean eigenvalue of X``, or
        ``damping`` itself with ``absolute=True``), so dot products of
        features estimate K-FAC influence. ``None`` goes back to plain
        features. The whitening folds into the projection matrices
        (``M_C P_in``, ``M_S P_out``): the device path stays on the device.
        """
        if curvature is None:
            self.curvature, self._whitening = None, None
            self._cache = MatrixCache(self._seed, self._kind)
            return
        kfac.check_layers(self, curvature)
        maps = kfac.whitening_matrices(curvature, damping, absolute)
        self.curvature, self._whitening = curvature, (float(damping), bool(absolute))
        self._whitened = curvature.whitened_projector(self.projector, damping, absolute)
        self._cache = kfac.WhitenedMatrixCache(MatrixCache(self._seed, self._kind), maps)

    def curvature_features(self, capture: Capture, method: str = "ekfac", damping: float = 0.1,
                           absolute: bool = False, layers=None) -> np.ndarray:
        """Unprojected eigenbasis features of a capture, ``S x sum(d_out *
        d_in)``: ``Curvature.features`` with the curvature of
        ``set_curvature`` (``"kfac"``: kronfluence's K-FAC, ``"ekfac"``:
        EK-FAC). ``4 d_out d_in`` bytes per sample and layer. ``layers``
        (a glob or list of them) keeps some layers only, in layer order."""
        if self.curvature is None:
            raise RuntimeError("no curvature: call set_curvature(fit_curvature(...)) first")
        factors = capture.factors
        if layers is not None:
            factors = {self.ids[l]: capture.factors[l] for l in kfac.ekfac_positions(self, layers)}
        return self.curvature.features(capture.token_counts, factors, method, damping, absolute)
