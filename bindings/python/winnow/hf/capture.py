"""In-step capture: per-sample features of the batch being trained, from the
backward pass the optimizer step already runs (no second pass).

A forward hook on every layer of a ``FactoredFeatures`` keeps the layer's
input ``A`` and registers a gradient hook on its output, which receives
``D`` when ``Trainer`` calls ``loss.backward()``. The training loss is
``sum_s w_s l_s / (S * g)`` (plan weights ``w``, ``S`` samples, ``g``
gradient-accumulation steps), so sample ``s``'s rows of ``D`` are
``w_s / (S g)`` times the gradient of its own loss ``l_s``. ``WinnowTrainer``
multiplies those rows by ``S g / w_s`` before any feature transform, which
gives exactly the factors of ``grad l_s`` that a separate pass would
compute (up to dropout, which is on during training: these are the
training step's gradients).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from .._torch_explicit import numpy32 as _numpy, pad_rows as _pad_rows
from .._torch_features import Capture, FactoredFeatures


class StepCapture:
    """Records ``(A, D)`` of ``fx``'s layers during one training step.

    Usage::

        step = StepCapture(fx)
        with step.recording():
            loss.backward()           # forward and backward of the step
        cap = step.capture(samples, mask)   # Capture, or None if nothing ran

    ``step.features(samples, mask)`` instead gives the plain features,
    projected on the model's device (the first stage of ``FactoredFeatures``):
    only ``S x feature_dim`` floats reach the host. ``capture`` copies the
    factors themselves to the CPU, which LESS's Adam features need (and
    which is the faster way when the model is on the CPU).

    Cost: the kept inputs and output gradients of the captured layers (the
    tensors autograd holds anyway), and the projection or the copy.
    """

    def __init__(self, fx: FactoredFeatures):
        self.fx = fx
        self._calls: list[list] | None = None

    @contextlib.contextmanager
    def recording(self):
        """Hooks the layers for the duration of the block."""
        self._calls = [[] for _ in self.fx.modules]
        handles = []
        for l, (_, module) in enumerate(self.fx.modules):
            def hook(module, args, output, l=l):
                if not (torch.is_grad_enabled() and output.requires_grad):
                    return
                slot = [args[0].detach(), None]
                self._calls[l].append(slot)

                def keep(grad, slot=slot):
                    slot[1] = grad.detach()
                output.register_hook(keep)
            handles.append(module.register_forward_hook(hook))
        try:
            yield self
        finally:
            for h in handles:
                h.remove()

    def capture(self, samples: int, mask: torch.Tensor | None) -> Capture | None:
        """The recorded step's factors for ``samples`` samples (``mask``:
        ``S x T`` real-token mask, or ``None``), or ``None`` when no layer
        saw a gradient (e.g. the step was skipped)."""
        calls, self._calls = self._calls, None
        if not calls or not any(c for c in calls):
            return None
        fx = self.fx
        per_layer = []
        for l, slots in enumerate(calls):
            if not slots:
                raise RuntimeError(f"layer {fx.names[l]} was not called in the training step")
            per_layer.append([(x, torch.zeros(*x.shape[:-1], fx.layers[l].d_out,
                                               dtype=x.dtype, device=x.device)
                               if g is None else g) for x, g in slots])
        if mask is not None and bool(mask.all()):
            mask = None  # no padding: every row is real, skip the gather
        rows = [self._rows(l, pairs, samples, mask) for l, pairs in enumerate(per_layer)]
        counts = torch.stack([c for c, _, _ in rows]).amax(0)
        factors = []
        for c, a, d in rows:
            if not torch.equal(c, counts):
                a, d = _pad_rows(a, c, counts), _pad_rows(d, c, counts)
            factors.append((_numpy(a), _numpy(d)))
        return Capture(counts.numpy().astype(np.int64), factors, np.zeros(samples, np.float32))

    def features(self, samples: int, mask: torch.Tensor | None) -> np.ndarray | None:
        """``S x feature_dim`` ``float32`` plain features of the recorded step,
        projected on the model's device, or ``None`` when no layer saw a
        gradient. Equal to ``fx.project(capture(samples, mask))`` (the first
        stage of ``FactoredFeatures.features``), without copying the factors
        to the host. Rows carry the loss's scale, as ``D`` does."""
        calls, self._calls = self._calls, None
        if not calls or not any(c for c in calls):
            return None
        fx = self.fx
        stage, _, forward = fx._stage()
        device = None
        for l, slots in enumerate(calls):
            if not slots:
                raise RuntimeError(f"layer {fx.names[l]} was not called in the training step")
            for call, (x, g) in enumerate(slots):
                x, keep = fx._inputs(l, x, mask)
                device = x.device
                if g is not None:  # a call no gradient reached adds nothing
                    forward(l, call, x, keep)
                    stage.backward(l, call, g)
        blocks = fx._stage_blocks(stage, samples, device, f"the step trained {samples}")
        out = torch.cat(blocks, 1).cpu().numpy()
        fx.host_bytes += out.nbytes
        return out

    def _rows(self, l: int, pairs, samples: int, mask):
        """``(counts, A, D)`` of layer ``l``. The common case, one call with
        ``S x T x d`` tensors, is a view (no padding) or one gather (a
        mask); anything else goes through ``FactoredFeatures``'s general
        path (several calls, 2-D inputs)."""
        fx = self.fx
        if len(pairs) != 1 or pairs[0][0].dim() != 3 or pairs[0][0].shape[0] != samples \
                or (mask is not None and tuple(mask.shape) != tuple(pairs[0][0].shape[:2])):
            return fx._rows(l, [self._call(l, x, g, samples, mask) for x, g in pairs], samples)
        x, g = pairs[0]
        if mask is None:
            a, d = x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])
            counts = torch.full((samples,), x.shape[1], dtype=torch.int64)
        else:
            keep = mask.to(device=x.device, dtype=torch.bool)
            a, d = x[keep], g[keep]
            counts = keep.sum(1).cpu()
        if fx.bias[l]:
            a = torch.cat([a, torch.ones_like(a[:, :1])], 1)
        return counts, a, d

    def _call(self, l: int, x: torch.Tensor, g, samples: int, mask):
        """One module call as ``FactoredFeatures._rows`` takes it:
        ``(S x T x d input, S x T real-token mask, output gradient)``."""
        if x.dim() < 2 or x.shape[0] != samples:
            raise ValueError(f"layer {self.fx.names[l]}: input of shape {tuple(x.shape)}; "
                             f"expected {samples} samples first (S x d or S x T x d)")
        x = x.reshape(samples, -1, x.shape[-1])
        t = x.shape[1]
        if mask is None or t == 1:
            keep = torch.ones(samples, t, dtype=torch.bool, device=x.device)
        elif tuple(mask.shape) == (samples, t):
            keep = mask.to(device=x.device, dtype=torch.bool)
        else:
            raise ValueError(f"layer {self.fx.names[l]} sees {t} positions per sample but "
                             f"the mask is {tuple(mask.shape)}")
        return x, keep, g
