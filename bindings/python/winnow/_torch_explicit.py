"""Explicit per-sample gradients of a capture: LESS's exact Adam features and
the reference the hook features are checked against. A mixin of
``FactoredFeatures``."""

from __future__ import annotations

import numpy as np
import torch

from .factored import FactoredProjector


class ExplicitGradients:
    """Needs ``layers``, ``dims``, ``projector``, ``feature_dim``, ``_seed``,
    ``_kind`` and ``_single`` from ``FactoredFeatures``."""

    def gradients(self, capture) -> list[torch.Tensor]:
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
        ``d_in`` includes the bias column when it is included; a ``Conv1D``
        or embedding weight's ``.grad`` transposed, see ``Layer``).

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
                [(numpy32(g.reshape(-1, d_in)), numpy32(identity))])
        return out

    def _layer_projector(self, l: int) -> FactoredProjector:
        """Layer ``l`` alone, with the matrices of ``self.projector``."""
        if self._single[l] is None:
            self._single[l] = FactoredProjector([self.projector.layers[l]], seed=self._seed,
                                                kind=self._kind)
        return self._single[l]

    def adam_features(self, capture, optimizer, beta1: float = 0.9,
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
        scale use the plain-gradient features (``features``).
        """
        transformed = []
        for layer, g in zip(self.layers, self.gradients(capture)):
            m, v = (layer.weight_gradient(t) for t in _adam_state(optimizer, layer.module.weight))
            if layer.bias:
                mb, vb = _adam_state(optimizer, layer.module.bias)
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


def numpy32(t: torch.Tensor) -> np.ndarray:
    """A C-contiguous float32 NumPy view of a CPU copy (a view when ``t``
    already is one)."""
    return t.detach().to(device="cpu", dtype=torch.float32).contiguous().numpy()


def pad_rows(rows: torch.Tensor, counts: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
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
    return pad_rows(rows, counts, full).reshape(counts.numel(), width, rows.shape[1])
