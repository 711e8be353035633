"""Kronecker-factored curvature: K-FAC and EK-FAC influence (DESIGN 2.9).

Per linear layer, ``C = sum(a a^T) / tokens`` and ``S = sum(d d^T) / tokens``
over a fit set, eigendecomposed in the library (``LAPACKE_ssyevd``). Two kinds
of preconditioned features follow, whose dot products estimate the influence
``g_i^T (H + damping)^-1 g_j``:

* ``whiten``: K-FAC with the damping per factor, ``A (C + l_C)^-1/2`` and
  ``D (S + l_S)^-1/2`` — factors of the same shapes, which a
  ``FactoredProjector`` projects as it would the raw ones; or, cheaper,
  ``whitened_projector``: the whitening folded into the projector's maps.
* ``features``: gradients in the Kronecker eigenbasis divided by
  ``sqrt(L + l)``; ``L = e_S x e_C`` (``"kfac"``) or fitted second moments
  (``"ekfac"``), kronfluence's two strategies with its damping rule.

Example::

    curv = winnow.Curvature([(layer_id, d_in, d_out), ...])
    for counts, factors in fit_batches:  curv.accumulate(counts, factors)
    curv.fit()
    for counts, factors in fit_batches:  curv.accumulate_corrections(counts, factors)  # EK-FAC
    curv.save("fit.wnkfac")
    train = curv.features(counts, factors, method="ekfac")   # S x sum(d_out*d_in)
    scores = train @ curv.features(q_counts, q_factors, method="ekfac").T

Factors are given as for ``FactoredProjector.project``: ``token_counts`` plus a
list in layer order of ``(A, D)`` (``sum(T) x d_in``, ``sum(T) x d_out``), or
a dict ``{layer_id: (A, D)}``; ``D`` holds the gradients of each sample's loss
with respect to the layer's output. Not safe for concurrent use.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from . import _arrays as A
from ._handle import LibraryObject
from ._lib import c_float_p, lib
from .factored import _Batch

#: ``method`` names -> ``WN_CURVATURE_*``.
METHODS = {"kfac": 0, "ekfac": 1}
PHASES = {0: "accumulating", 1: "fitted"}


class Curvature(LibraryObject):
    """A K-FAC / EK-FAC fit over linear layers; see the module notes.

    Args:
        layers: ``(id, d_in, d_out)`` per layer (extra entries, such as the
            ranks of a ``FactoredProjector``'s layers, are ignored).
    """

    _kind = "curvature"

    def __init__(self, layers=None, *, _handle=None):
        if _handle is None:
            spec = np.asarray([tuple(layer)[:3] for layer in layers], dtype=np.int64).reshape(-1, 3)
            ids = np.ascontiguousarray(spec[:, 0].astype(np.uint64))
            dims = [np.ascontiguousarray(spec[:, c].astype(np.uintp)) for c in (1, 2)]
            size_p = ctypes.POINTER(ctypes.c_size_t)
            handle = ctypes.c_void_p()
            from ._errors import check
            check(lib.wn_curvature_create(
                ctypes.byref(handle), len(spec), ids.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)),
                *[d.ctypes.data_as(size_p) for d in dims]))
            _handle = handle
        self._handle = _handle
        self._read_layers()

    def _read_layers(self) -> None:
        count = self._info()[5]
        ids = np.zeros(count, dtype=np.uint64)
        d_in, d_out = np.zeros(count, dtype=np.uintp), np.zeros(count, dtype=np.uintp)
        size_p = ctypes.POINTER(ctypes.c_size_t)
        self._check(lib.wn_curvature_layers(
            self._handle, ids.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)),
            d_in.ctypes.data_as(size_p), d_out.ctypes.data_as(size_p), count))
        #: ``(id, d_in, d_out)`` per layer, in feature order.
        self.layers = [(int(i), int(a), int(b)) for i, a, b in zip(ids, d_in, d_out)]
        self._dims = {i: (a, b) for i, a, b in self.layers}
        dims = [a * b for _, a, b in self.layers]
        #: Each layer's first column in ``features``.
        self.offsets = np.concatenate([[0], np.cumsum(dims)[:-1]]).astype(np.int64)

    def _info(self):
        phase = ctypes.c_int32()
        values = [ctypes.c_size_t() for _ in range(5)]
        self._check(lib.wn_curvature_info(self._handle, ctypes.byref(phase),
                                          *[ctypes.byref(v) for v in values]))
        return (PHASES.get(phase.value, str(phase.value)), *[v.value for v in values])

    @property
    def phase(self) -> str:
        """``"accumulating"`` before ``fit()``, ``"fitted"`` after."""
        return self._info()[0]

    @property
    def tokens(self) -> int:
        """The tokens accumulated into ``C`` and ``S``."""
        return self._info()[1]

    @property
    def samples(self) -> int:
        """The samples accumulated into ``C`` and ``S``."""
        return self._info()[2]

    @property
    def correction_samples(self) -> int:
        """The samples accumulated into the EK-FAC corrections (0: none)."""
        return self._info()[3]

    @property
    def feature_dim(self) -> int:
        """``sum(d_out * d_in)``: the width of ``features``."""
        return self._info()[4]

    def _batch(self, token_counts, factors, name="factors") -> _Batch:
        def dims_of(position, layer_id):
            if layer_id is not None:
                return self._dims.get(layer_id)
            return self.layers[position][1:3] if position < len(self.layers) else None
        return _Batch(token_counts, factors, dims_of, allow_half=False, name=name)

    def accumulate(self, token_counts, factors) -> None:
        """Adds a batch of the fit set to ``C`` and ``S`` (before ``fit``)."""
        b = self._batch(token_counts, factors)
        self._check(lib.wn_curvature_accumulate_f32(self._handle, *b.args()))

    def fit(self) -> None:
        """Eigendecomposes ``C`` and ``S`` of every layer."""
        self._check(lib.wn_curvature_fit(self._handle))

    def accumulate_corrections(self, token_counts, factors) -> None:
        """Adds a batch of the fit set to EK-FAC's second moments (after
        ``fit``): each sample's ``(Q_S^T G Q_C)^2``. Costs forming ``G`` in
        the eigenbasis, ``d_out x d_in`` per sample and layer; a dict of
        factors may name only the layers that get EK-FAC."""
        b = self._batch(token_counts, factors)
        self._check(lib.wn_curvature_accumulate_corrections_f32(self._handle, *b.args()))

    def whiten(self, token_counts, factors, damping: float = 0.1, absolute: bool = False):
        """K-FAC whitened factors ``[(A (C+l_C)^-1/2, D (S+l_S)^-1/2), ...]``
        in the order of ``factors`` (a dict gives a dict), ``float32``.

        ``l_X = damping * mean(eigenvalues of X)``, or ``damping`` itself
        with ``absolute=True``. Project the result with a
        ``FactoredProjector``, or form ``D_w.T @ A_w`` per sample.
        """
        b = self._batch(token_counts, factors)
        outs = [(np.empty((b.total, d_in), np.float32), np.empty((b.total, d_out), np.float32))
                for d_in, d_out in b.dims]
        pointer = c_float_p
        out_a = (pointer * len(outs))(*[a.ctypes.data_as(pointer) for a, _ in outs])
        out_d = (pointer * len(outs))(*[d.ctypes.data_as(pointer) for _, d in outs])
        self._check(lib.wn_curvature_whiten_f32(
            self._handle, float(damping), int(bool(absolute)), b.total, b.layer_count,
            b.ids_pointer(), b.inputs, b.outputs, out_a, out_d, b.total))
        if isinstance(factors, dict):
            return dict(zip(factors.keys(), outs))
        return outs

    def whitened_projector(self, projector, damping: float = 0.1, absolute: bool = False):
        """A ``FactoredProjector`` with the K-FAC whitening folded into its
        maps (``M_C P_in``, ``M_S P_out``): it projects raw factors to the
        features of ``whiten``'s factors at the cost of a plain projection,
        and works wherever a projector does (``Engine.add_candidate_factors``,
        ``select_step_factors``). ``projector``'s layers must be layers of
        this curvature with the same dims."""
        from .factored import FactoredProjector
        handle = ctypes.c_void_p()
        self._check(lib.wn_curvature_whitened_projector(
            self._handle, float(damping), int(bool(absolute)), projector._handle,
            ctypes.byref(handle)))
        return FactoredProjector(projector.layers, projector.seed, projector.kind, _handle=handle,
                                 _whitening=(float(damping), bool(absolute)))

    def features(self, token_counts, factors, method: str = "ekfac", damping: float = 0.1,
                 absolute: bool = False, out=None) -> np.ndarray:
        """Eigenbasis features, ``S x feature_dim`` ``float32``: per layer
        ``(Q_S^T G Q_C) / sqrt(L + l)``, so dot products are influences.
        ``factors`` as a dict may name some of the layers only: their blocks,
        in the curvature's layer order (EK-FAC per layer: see ``costs``).

        Args:
            method: ``"kfac"`` (``L = e_S x e_C``) or ``"ekfac"`` (fitted;
                needs ``accumulate_corrections``).
            damping: ``l = damping * mean(L)`` per layer (kronfluence's rule
                at 0.1), or ``damping`` itself with ``absolute=True``.
            out: optional C-contiguous ``float32`` ``S x feature_dim`` array.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
        b = self._batch(token_counts, factors)
        # A dict may name a subset of the layers: their blocks, in layer order.
        dim = self.feature_dim if b.ids is None else sum(
            self._dims[int(i)][0] * self._dims[int(i)][1] for i in b.ids if int(i) in self._dims)
        if out is None:
            out = np.zeros((b.samples, dim), dtype=np.float32)
        elif out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError("out must be a C-contiguous float32 array")
        self._check(lib.wn_curvature_features_f32(
            self._handle, METHODS[method], float(damping), int(bool(absolute)), *b.args(),
            A.f32(out), out.size))
        return out

    def costs(self, tokens: int, k_in: int = 16, k_out: int = 16) -> list:
        """What each feature kind costs per sample of ``tokens`` tokens, per
        layer, to choose EK-FAC where it is affordable and K-FAC elsewhere
        (fit one ``Curvature`` per group of layers; concatenate features).

        Returns one dict per layer: ``id``, ``kfac_flops`` (the folded
        whitened projection, ``2T(d_in k_in + d_out k_out + k_in k_out)``,
        as a plain projection), ``eigenbasis_flops`` (``2T(d_in^2 + d_out^2
        + d_out d_in)``, K-FAC or EK-FAC in the eigenbasis),
        ``eigenbasis_floats`` (``d_out d_in`` features) and
        ``curvature_bytes`` held by the fit (``4(2 d_in^2 + 2 d_out^2 +
        d_out d_in)``).
        """
        return [{"id": i,
                 "kfac_flops": 2 * tokens * (a * k_in + b * k_out + k_in * k_out),
                 "eigenbasis_flops": 2 * tokens * (a * a + b * b + a * b),
                 "eigenbasis_floats": a * b,
                 "curvature_bytes": 4 * (2 * a * a + 2 * b * b + a * b)}
                for i, a, b in self.layers]

    def save(self, path) -> None:
        """Writes the fit (any phase) to one checksummed file, atomically."""
        self._check(lib.wn_curvature_save(self._handle, os.fsencode(os.fspath(path))))

    @classmethod
    def load(cls, path) -> "Curvature":
        """Reads a fit written by ``save``; a truncated or corrupt file
        raises ``FormatError`` naming the file and the problem."""
        from ._errors import check
        handle = ctypes.c_void_p()
        check(lib.wn_curvature_load(ctypes.byref(handle), os.fsencode(os.fspath(path))))
        return cls(_handle=handle)

    def __repr__(self) -> str:
        phase, tokens, samples, corrections, dim, count = self._info()
        return (f"Curvature({count} layers, {phase}, {tokens} tokens / {samples} samples, "
                f"{corrections} correction samples, feature_dim={dim})")
