"""The first stage on the tensors' own device (DESIGN 2.10), and the tap that
hands each layer's output gradient to it as the backward pass reaches it.

Per layer and sample the features are ``phi_s = (D_s P_out)^T (A_s P_in)``
(``k_out x k_in``). The forward hook turns ``A`` into ``A P_in``
(``S x T x k_in``) at once, so the layer's inputs are not kept; the tap's
backward turns ``D`` into ``D P_out`` and adds ``phi`` to the layer's
``S x k_out k_in`` float32 accumulator, so no layer's ``D`` outlives its
own step of the backward pass. Only the accumulators (``S x feature_dim``)
reach the host.

The materialized path keeps ``A`` (in the model's dtype) until ``D``
arrives, forms ``G_s = D_s^T A_s`` and projects ``P_out^T G_s P_in``: the
same features, cheaper when ``k_in`` is close to ``d_in`` (small LoRA
layers). ``plan_path`` chooses by flops, within a memory bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .factored import factor_matrix

#: ``G`` buffers above this many bytes per batch make ``auto`` keep the factored path.
MATERIALIZE_BYTES = 256 << 20
PATHS = ("auto", "factored", "materialized")


@dataclass
class LayerPlan:
    """A layer's path for ``S`` samples of ``T`` positions, with the
    multiply-adds and device bytes of both paths (per batch)."""

    name: str
    kind: str
    path: str
    factored_flops: int
    materialized_flops: int
    factored_bytes: int
    materialized_bytes: int


def plan_path(layer, k_in: int, k_out: int, samples: int, tokens: int, element: int,
              forced: str) -> LayerPlan:
    """The cheaper path for one layer, or ``forced``.

    Factored: ``2 S T (d_in k_in + d_out k_out + k_in k_out)`` flops, and
    ``4 S T k_in`` bytes kept from forward to backward. Materialized:
    ``2 S (T d_in d_out + d_out d_in k_in + d_out k_in k_out)`` flops,
    ``S T d_in`` elements of ``A`` kept plus ``4 S d_out d_in`` bytes of ``G``.
    ``auto`` materializes only when that is fewer flops and ``G`` fits in
    ``MATERIALIZE_BYTES``; embeddings always use the factored path (a gather).
    """
    d_in, d_out = layer.d_in, layer.d_out
    f_flops = 2 * samples * tokens * (d_in * k_in + d_out * k_out + k_in * k_out)
    m_flops = 2 * samples * (tokens * d_in * d_out + d_out * d_in * k_in + d_out * k_in * k_out)
    f_bytes = 4 * samples * tokens * k_in
    g_bytes = 4 * samples * d_out * d_in
    m_bytes = element * samples * tokens * d_in + g_bytes
    if layer.kind == "embedding":
        path = "factored"
    elif forced != "auto":
        path = forced
    else:
        path = "materialized" if m_flops < f_flops and g_bytes <= MATERIALIZE_BYTES \
            else "factored"
    return LayerPlan(layer.name, layer.kind, path, f_flops, m_flops, f_bytes, m_bytes)


class MatrixCache:
    """``P_in``/``P_out`` per (layer id, side, rows, cols) from libwinnow,
    fetched once, then kept as float32 per device."""

    def __init__(self, seed: int, kind: str):
        self.seed, self.kind = seed, kind
        self._host: dict = {}
        self._device: dict = {}

    def get(self, layer_id: int, side: str, rows: int, cols: int, device) -> torch.Tensor:
        key = (layer_id, side, rows, cols)
        if key not in self._host:
            self._host[key] = torch.from_numpy(
                factor_matrix(layer_id, side, rows, cols, self.seed, self.kind))
        dkey = key + (str(device),)
        if dkey not in self._device:
            self._device[dkey] = self._host[key].to(device)
        return self._device[dkey]


def _fp32(t: torch.Tensor) -> torch.Tensor:
    """float32 for the products: half and bfloat16 inputs stay in their dtype
    until here, and the products accumulate in float32."""
    return t if t.dtype == torch.float32 else t.float()


class DeviceStage:
    """One batch's accumulators on the device; ``forward`` and ``backward``
    are called per layer call by the hooks and the tap."""

    def __init__(self, layers, plans, cache: MatrixCache, k_in: int, k_out: int):
        self.layers, self.plans, self.cache = layers, plans, cache
        self.k_in, self.k_out = k_in, k_out
        self.features = [None] * len(layers)
        self._pending: dict = {}

    def _matrices(self, l: int, device):
        layer = self.layers[l]
        return (self.cache.get(layer.id, "input", layer.d_in, self.k_in, device),
                self.cache.get(layer.id, "output", layer.d_out, self.k_out, device))

    def forward(self, l: int, call: int, x: torch.Tensor, keep: torch.Tensor) -> None:
        """Keeps ``A P_in`` (factored) or ``A`` (materialized) of one call;
        ``x`` is ``S x T x d`` (``S x T`` ids for an embedding), ``keep`` the
        ``S x T`` real-token mask."""
        layer = self.layers[l]
        p_in, _ = self._matrices(l, x.device)
        weight = p_in[:layer.weight_in]
        if layer.kind == "embedding":
            a = weight[x]  # the rows of P_in at the ids: onehot(ids) @ P_in
            if layer.padding_idx is not None:
                keep = keep & (x != layer.padding_idx)
        elif self.plans[l].path == "factored":
            a = _fp32(x) @ weight
        else:
            a = x * keep[..., None].to(x.dtype)
            if layer.bias:
                a = torch.cat([a, keep[..., None].to(x.dtype)], -1)
            self._pending[(l, call)] = a
            return
        a = a * keep[..., None].to(a.dtype)
        if layer.bias:
            a = a + keep[..., None].to(a.dtype) * p_in[layer.weight_in]
        self._pending[(l, call)] = a

    def backward(self, l: int, call: int, grad: torch.Tensor) -> None:
        """Adds ``phi`` of one call, from its output gradient ``S x T x d_out``."""
        a = self._pending.pop((l, call))
        p_in, p_out = self._matrices(l, grad.device)
        samples = a.shape[0]
        d = grad.reshape(samples, -1, grad.shape[-1])
        if self.plans[l].path == "factored":
            phi = (_fp32(d) @ p_out).transpose(1, 2) @ a
        else:
            g = _fp32(d).transpose(1, 2) @ _fp32(a)  # S x d_out x d_in
            phi = p_out.t() @ (g @ p_in)
        phi = phi.reshape(samples, -1)
        self.features[l] = phi if self.features[l] is None else self.features[l] + phi


class Tap(torch.autograd.Function):
    """Identity on a layer's output whose backward hands the output gradient
    to a sink (and passes it on unchanged).

    Each tap also takes ``anchor``, one scalar leaf: differentiating the loss
    with respect to the anchor alone runs every tap's backward (and the
    layers between them), forms no parameter gradient, and keeps no layer's
    gradient past its own step. A frozen layer's output gets a gradient too.
    """

    @staticmethod
    def forward(ctx, output, anchor, sink, l, call):
        ctx.sink, ctx.l, ctx.call = sink, l, call
        return output.view_as(output)

    @staticmethod
    def backward(ctx, grad):
        ctx.sink(ctx.l, ctx.call, grad.detach())
        return grad, None, None, None, None
