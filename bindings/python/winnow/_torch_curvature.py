"""K-FAC / EK-FAC for ``FactoredFeatures`` (DESIGN 2.9): fitting a
``winnow.Curvature`` from the same hook captures, and whitening the
projection. Imported by ``_torch_features``.

Whitening folds into the projection matrices. With ``M_C = (C + l_C)^-1/2``
and ``M_S = (S + l_S)^-1/2`` (symmetric), the whitened features are
``P_out^T M_S G M_C P_in = (M_S P_out)^T G (M_C P_in)``: the projection of
``G`` by ``P_in' = M_C P_in`` and ``P_out' = M_S P_out``. So the device
stage, the factored and the materialized paths all whiten by using those
matrices, and only ``S x feature_dim`` features still cross to the host.
"""

from __future__ import annotations

import fnmatch

import numpy as np
import torch

from .curvature import Curvature


def batches_of(batches, passes: int):
    """``batches`` as something iterable ``passes`` times: a one-shot
    iterator (a generator) is refused when two passes are needed."""
    if passes > 1 and iter(batches) is batches:
        raise ValueError("EK-FAC reads the fit set twice (covariances, then corrections): pass a "
                         "list or a DataLoader, not a one-shot iterator or generator")
    return batches


def call_capture(fx, loss_fn, batch):
    """``fx.capture(loss_fn, ...)`` with a batch given as a tuple/list
    (positional arguments), a dict (keyword arguments, ``mask`` included) or
    a single tensor."""
    if isinstance(batch, dict):
        return fx.capture(loss_fn, **batch)
    if isinstance(batch, (tuple, list)):
        return fx.capture(loss_fn, *batch)
    return fx.capture(loss_fn, batch)


def ekfac_positions(fx, ekfac) -> list:
    """The layer positions that get EK-FAC corrections: none (``False``),
    all (``True``), or those whose names match a glob or a list of them."""
    if ekfac is True or ekfac is False:
        return list(range(len(fx.names))) if ekfac else []
    patterns = [ekfac] if isinstance(ekfac, str) else list(ekfac)
    chosen = [l for l, name in enumerate(fx.names)
              if any(fnmatch.fnmatchcase(name, p) for p in patterns)]
    if not chosen:
        raise ValueError(f"ekfac={ekfac!r} matches none of the layers {fx.names}")
    return chosen


def fit(fx, loss_fn, batches, ekfac, progress=None) -> Curvature:
    """A ``Curvature`` over ``fx``'s layers fitted on ``batches``, with
    EK-FAC corrections for the layers ``ekfac`` names."""
    chosen = ekfac_positions(fx, ekfac)
    batches = batches_of(batches, 2 if chosen else 1)
    curvature = Curvature([(i, d_in, d_out) for i, (d_in, d_out) in zip(fx.ids, fx.dims)])

    def corrections(counts, factors):
        curvature.accumulate_corrections(counts, {fx.ids[l]: factors[l] for l in chosen})

    passes = [("covariances", curvature.accumulate)]
    if chosen:
        passes.append(("corrections", corrections))
    for p, (name, add) in enumerate(passes):
        seen = 0
        for batch in batches:
            capture = call_capture(fx, loss_fn, batch)
            add(capture.token_counts, capture.factors)
            seen += capture.samples
            if progress:
                progress(name, seen)
        if seen == 0:
            raise ValueError(f"the fit set gave no samples in the {name} pass")
        if p == 0:
            curvature.fit()
    return curvature


def check_layers(fx, curvature: Curvature) -> None:
    """Refuses a curvature fitted on other layers than ``fx``'s."""
    mine = [(i, d_in, d_out) for i, (d_in, d_out) in zip(fx.ids, fx.dims)]
    if curvature.layers != mine:
        raise ValueError(
            "the curvature was fitted on other layers: it has (id, d_in, d_out) "
            f"{curvature.layers}, this extractor {mine} (ids are layer_id(name); "
            "d_in counts a bias column when bias=True)")


def whitening_matrices(curvature: Curvature, damping: float, absolute: bool) -> dict:
    """``{layer id: (M_C, M_S)}``, float32 NumPy: the library's whitening of
    identity factors (``A = I`` gives ``A M_C = M_C``)."""
    maps = {}
    for layer_id, d_in, d_out in curvature.layers:
        rows = d_in + d_out
        a = np.zeros((rows, d_in), np.float32)
        d = np.zeros((rows, d_out), np.float32)
        a[:d_in] = np.eye(d_in, dtype=np.float32)
        d[d_in:] = np.eye(d_out, dtype=np.float32)
        (aw, dw), = curvature.whiten([rows], {layer_id: (a, d)}, damping, absolute).values()
        maps[layer_id] = (aw[:d_in].copy(), dw[d_in:].copy())
    return maps


class WhitenedMatrixCache:
    """A ``MatrixCache`` whose ``P_in`` and ``P_out`` are premultiplied by
    the whitening matrices: ``M_C P_in`` and ``M_S P_out``."""

    def __init__(self, base, maps: dict):
        self.base, self.maps = base, maps
        self.seed, self.kind = base.seed, base.kind
        self._device: dict = {}

    def get(self, layer_id: int, side: str, rows: int, cols: int, device) -> torch.Tensor:
        key = (layer_id, side, rows, cols, str(device))
        if key not in self._device:
            p = self.base.get(layer_id, side, rows, cols, "cpu")
            m = torch.from_numpy(self.maps[layer_id][0 if side == "input" else 1])
            self._device[key] = (m.double() @ p.double()).float().to(device)
        return self._device[key]
