"""Kronecker-factored projection of linear layers and exact ("ghost") gradient
dot products (DESIGN 2.7).

For a linear layer ``y = W x`` (``W`` is ``d_out x d_in``), one sample's
per-token inputs ``A`` (``T x d_in``) and output gradients ``D``
(``T x d_out``) give the weight gradient ``G = D.T @ A``. Neither function
here forms ``G``.

A batch of ``S`` samples is ``token_counts`` (``S`` values ``T_s``) plus, per
layer, ``(A, D)`` with ``sum(T_s)`` rows each: sample ``s`` owns the rows after
those of samples ``0 .. s-1``. Factors are given as a list in layer order, or
(for a ``FactoredProjector``) as a dict ``{layer_id: (A, D)}``.
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import _arrays as A
from ._errors import check, shape_error
from ._handle import LibraryObject
from ._lib import lib

KINDS = {"rademacher": 0, "gaussian": 1}
#: ``path`` names -> ``WN_DOT_PATH_*``.
PATHS = {"auto": 0, "ghost": 1, "materialized": 2}
PATH_NAMES = {1: "ghost", 2: "materialized"}


class _Batch:
    """The C arguments of a factor batch; keeps the converted arrays alive.

    Attributes: ``counts`` (``size_t`` array), ``total`` (rows of every
    factor), ``ids`` (``uint64`` array or ``None``), ``inputs`` and
    ``outputs`` (ctypes arrays of data pointers), ``dims`` (``(d_in, d_out)``
    per layer), ``half`` (``True`` when every factor is ``float16``).
    """

    def __init__(self, token_counts, factors, dims_of=None, allow_half=False,
                 name: str = "factors"):
        counts = np.asarray(token_counts, dtype=np.int64).reshape(-1)
        self.counts = counts.astype(np.uintp)  # negatives wrap: refused by the library
        if isinstance(factors, dict):
            self.ids = np.ascontiguousarray(list(factors.keys()), dtype=np.uint64)
            pairs = list(factors.values())
        else:
            self.ids, pairs = None, list(factors)
        arrays = [(np.asarray(a), np.asarray(d)) for a, d in pairs]
        self.half = allow_half and bool(arrays) and all(
            a.dtype == np.float16 and d.dtype == np.float16 for a, d in arrays)
        dtype = np.float16 if self.half else np.float32
        self._keep = [(A.contiguous(a, dtype, f"{name} inputs"),
                       A.contiguous(d, dtype, f"{name} output gradients")) for a, d in arrays]
        self.total = self._keep[0][0].shape[0] if self._keep and self._keep[0][0].ndim == 2 \
            else 0
        self.dims = []
        for l, (a, d) in enumerate(self._keep):
            expected = dims_of(l, None if self.ids is None else int(self.ids[l])) \
                if dims_of else None
            self._check(l, a, d, expected, name)
            self.dims.append((a.shape[1], d.shape[1]))
        ctype = ctypes.c_uint16 if self.half else ctypes.c_float
        pointer = ctypes.POINTER(ctype)
        self.inputs = (pointer * len(self._keep))(
            *[a.ctypes.data_as(pointer) for a, _ in self._keep])
        self.outputs = (pointer * len(self._keep))(
            *[d.ctypes.data_as(pointer) for _, d in self._keep])

    def _check(self, l, a, d, expected, name):
        """Refuses shapes the library cannot see: every factor 2-D, with the
        same rows, and the layer's dims when they are known."""
        if a.ndim != 2 or d.ndim != 2:
            raise shape_error(f"{name}[{l}]: A and D must be 2-D, got shapes {a.shape} "
                              f"and {d.shape}")
        if a.shape[0] != self.total or d.shape[0] != self.total:
            raise shape_error(f"{name}[{l}]: A has {a.shape[0]} rows and D {d.shape[0]}; "
                              f"every factor must have {self.total} rows (sum of token counts)")
        if expected is not None and (a.shape[1], d.shape[1]) != expected:
            raise shape_error(f"{name}[{l}]: A is {a.shape} and D is {d.shape}, but the layer "
                              f"has d_in = {expected[0]}, d_out = {expected[1]}")

    @property
    def samples(self) -> int:
        return int(self.counts.size)

    @property
    def layer_count(self) -> int:
        return len(self._keep)

    def counts_pointer(self):
        return self.counts.ctypes.data_as(ctypes.POINTER(ctypes.c_size_t))

    def ids_pointer(self):
        return None if self.ids is None else self.ids.ctypes.data_as(
            ctypes.POINTER(ctypes.c_uint64))

    def args(self):
        """``sample_count, token_counts, total_tokens, layer_count, layer_ids,
        inputs, output_gradients`` as the C functions take them."""
        return (self.samples, self.counts_pointer(), self.total, self.layer_count,
                self.ids_pointer(), self.inputs, self.outputs)


class FactoredProjector(LibraryObject):
    """Projects linear-layer weight gradients from their factors (LoGra).

    For each layer the features of a sample are ``(D P_out).T @ (A P_in)``
    (``k_out x k_in``, row-major) = ``P_out.T G P_in``; layers are
    concatenated in the order given, layer ``l`` at columns
    ``offsets[l] : offsets[l] + k_out*k_in``. ``P_in`` (``d_in x k_in``) and
    ``P_out`` (``d_out x k_out``) are keyed by ``(seed, layer id)``, scaled so
    that squared norms are preserved in expectation, and generated once here
    (``4 * sum(d_in*k_in + d_out*k_out)`` bytes). Cost per sample and layer:
    ``2T(d_in k_in + d_out k_out + k_in k_out)`` flops, never ``d_in*d_out``.
    Not safe for concurrent use from several threads.

    Args:
        layers: ``(id, d_in, d_out, k_in, k_out)`` per layer; ids distinct and
            stable across runs (they key the random matrices).
        seed: the user seed.
        kind: ``"rademacher"`` (default) or ``"gaussian"``.
    """

    _kind = "factored_projector"

    def __init__(self, layers, seed: int = 0, kind: str = "rademacher", *, _handle=None,
                 _whitening=None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
        spec = np.asarray([tuple(layer) for layer in layers], dtype=np.int64).reshape(-1, 5)
        size_p = ctypes.POINTER(ctypes.c_size_t)
        if _handle is None:
            ids = np.ascontiguousarray(spec[:, 0].astype(np.uint64))
            columns = [np.ascontiguousarray(spec[:, c].astype(np.uintp)) for c in range(1, 5)]
            handle = ctypes.c_void_p()
            check(lib.wn_factored_projector_create(
                ctypes.byref(handle), len(spec),
                ids.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)),
                *[c.ctypes.data_as(size_p) for c in columns], seed & 0xFFFF_FFFF_FFFF_FFFF,
                KINDS[kind]))
            _handle = handle
        self._handle = _handle
        self.seed, self.kind = seed, kind
        #: ``(damping, absolute)`` of a K-FAC-whitened projector
        #: (``Curvature.whitened_projector``), ``None`` for a plain one.
        self.whitening = _whitening
        #: ``(id, d_in, d_out, k_in, k_out)`` per layer, in feature order.
        self.layers = [tuple(int(v) for v in row) for row in spec]
        self._dims = {row[0]: (row[1], row[2]) for row in self.layers}
        dim, count = ctypes.c_size_t(), ctypes.c_size_t()
        offsets = np.zeros(len(spec), dtype=np.uintp)
        self._check(lib.wn_factored_projector_dims(
            _handle, ctypes.byref(dim), ctypes.byref(count), offsets.ctypes.data_as(size_p),
            offsets.size))
        #: ``sum(k_out * k_in)``, the length of one sample's features.
        self.feature_dim = dim.value
        #: Each layer's first feature column.
        self.offsets = offsets.astype(np.int64)

    def _batch(self, token_counts, factors, allow_half=False, name="factors") -> _Batch:
        def dims_of(position, layer_id):
            if layer_id is not None:
                return self._dims.get(layer_id)  # unknown ids: the library says so
            return self.layers[position][1:3] if position < len(self.layers) else None
        return _Batch(token_counts, factors, dims_of, allow_half, name)

    def project(self, token_counts, factors, out=None) -> np.ndarray:
        """Features of a batch, ``S x feature_dim`` ``float32``.

        Args:
            token_counts: ``T_s`` per sample (``S`` values).
            factors: ``[(A, D), ...]`` in layer order, or ``{id: (A, D)}``;
                ``A`` is ``sum(T) x d_in``, ``D`` is ``sum(T) x d_out``.
                ``float16`` factors (all of them) are projected as half
                precision; anything else is converted to ``float32``.
            out: optional C-contiguous ``float32`` array of ``S x feature_dim``.
        Raises ``WinnowError`` for mismatched token counts, shapes or ids,
        and for NaN or infinite values.
        """
        b = self._batch(token_counts, factors, allow_half=True)
        if out is None:
            out = np.zeros((b.samples, self.feature_dim), dtype=np.float32)
        elif out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError("out must be a C-contiguous float32 array")
        function = lib.wn_factored_projector_project_f16 if b.half \
            else lib.wn_factored_projector_project_f32
        self._check(function(self._handle, *b.args(), A.f32(out), out.size))
        return out

    def factor_matrices(self, layer: int):
        """``(P_in, P_out)`` of the ``layer``-th layer (position, not id):
        ``d_in x k_in`` and ``d_out x k_out`` ``float32``, the matrices this
        projector multiplies by (see ``factor_matrix``)."""
        if self.whitening is not None:
            raise ValueError("a whitened projector's matrices are M_C P_in and M_S P_out; "
                             "factor_matrices gives the plain ones only")
        layer_id, d_in, d_out, k_in, k_out = self.layers[layer]
        return (factor_matrix(layer_id, "input", d_in, k_in, self.seed, self.kind),
                factor_matrix(layer_id, "output", d_out, k_out, self.seed, self.kind))


#: ``side`` names -> ``WN_FACTOR_*``.
SIDES = {"input": 0, "output": 1}


def factor_matrix(layer_id: int, side: str, rows: int, cols: int, seed: int = 0,
                  kind: str = "rademacher") -> np.ndarray:
    """The factor matrix a ``FactoredProjector(..., seed, kind)`` uses for
    layer ``layer_id``: ``rows x cols`` ``float32``, scaled by ``1/sqrt(cols)``.

    ``side="input"`` with ``(d_in, k_in)`` gives ``P_in``; ``"output"`` with
    ``(d_out, k_out)`` gives ``P_out``. A framework multiplies its factors by
    these on its own device (DESIGN 2.10) and gets the projector's features.
    The corresponding C function is ``wn_factored_matrix_fill``.
    Cost: ``O(rows * cols)``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    if side not in SIDES:
        raise ValueError(f"side must be one of {sorted(SIDES)}, got {side!r}")
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be >= 1, got {rows} x {cols}")
    out = np.empty((rows, cols), dtype=np.float32)
    check(lib.wn_factored_matrix_fill(KINDS[kind], seed & 0xFFFF_FFFF_FFFF_FFFF,
                                      layer_id & 0xFFFF_FFFF_FFFF_FFFF, SIDES[side], rows,
                                      cols, A.f32(out), out.size))
    return out


def _path(path: str) -> int:
    if path not in PATHS:
        raise ValueError(f"path must be one of {sorted(PATHS)}, got {path!r}")
    return PATHS[path]


def _dims(b: _Batch):
    size_p = ctypes.POINTER(ctypes.c_size_t)
    din = np.ascontiguousarray([d[0] for d in b.dims], dtype=np.uintp)
    dout = np.ascontiguousarray([d[1] for d in b.dims], dtype=np.uintp)
    return din, dout, din.ctypes.data_as(size_p), dout.ctypes.data_as(size_p)


def ghost_gram(token_counts, factors, path: str = "auto", with_paths: bool = False):
    """The exact Gram matrix ``<G_i, G_j>`` of a batch, summed over layers.

    Computed per layer as ``sum((A_i A_j.T) * (D_i D_j.T))`` (the ghost form)
    or by forming each ``G_s = D_s.T A_s``, whichever costs fewer
    multiply-adds (``path="auto"``), or as forced (``"ghost"``,
    ``"materialized"``); both are exact up to fp32 rounding.

    Args:
        token_counts: ``T_s`` per sample.
        factors: ``[(A, D), ...]`` per layer (dims are read from the shapes).
        path: ``"auto"``, ``"ghost"`` or ``"materialized"``.
        with_paths: also return the path each layer took.
    Returns:
        ``S x S`` ``float32`` (symmetric), or ``(gram, paths)``.
    """
    b = _Batch(token_counts, factors, name="factors")
    if b.layer_count == 0:
        raise ValueError("at least one layer is required")
    _, _, din, dout = keep = _dims(b)
    out = np.zeros((b.samples, b.samples), dtype=np.float32)
    paths = np.zeros(b.layer_count, dtype=np.int32)
    check(lib.wn_ghost_gram_f32(
        b.layer_count, din, dout, b.samples, b.counts_pointer(), b.total, b.inputs, b.outputs,
        _path(path), A.f32(out), out.size, A.i32(paths)))
    del keep
    return (out, [PATH_NAMES[p] for p in paths]) if with_paths else out


def ghost_target_dots(token_counts, factors, targets, path: str = "auto",
                      with_paths: bool = False):
    """The exact dot products ``<G_i, G_target>`` of a batch, summed over layers.

    Args:
        token_counts: ``T_s`` per sample.
        factors: ``[(A, D), ...]`` per layer.
        targets: per layer, either an explicit target gradient (a
            ``d_out x d_in`` array) or target factors ``(A_t, D_t)`` (a tuple,
            ``T_t x d_in`` and ``T_t x d_out``; ``G_t = D_t.T A_t``).
        path, with_paths: as for ``ghost_gram``.
    Returns:
        ``S`` ``float32`` values, or ``(dots, paths)``.
    """
    b = _Batch(token_counts, factors, name="factors")
    if b.layer_count == 0:
        raise ValueError("at least one layer is required")
    targets = list(targets)
    if len(targets) != b.layer_count:
        raise shape_error(f"{len(targets)} targets for {b.layer_count} layers")
    _, _, din, dout = keep = _dims(b)
    pointer = ctypes.POINTER(ctypes.c_float)
    n = b.layer_count
    t_counts = np.zeros(n, dtype=np.uintp)
    t_in, t_out, t_grad = (pointer * n)(), (pointer * n)(), (pointer * n)()
    alive = []
    for l, (target, (d_in, d_out)) in enumerate(zip(targets, b.dims)):
        if isinstance(target, (tuple, list)):
            a, d = (A.contiguous(x, np.float32, f"targets[{l}]") for x in target)
            if a.ndim != 2 or d.ndim != 2 or a.shape != (a.shape[0], d_in) \
                    or d.shape != (a.shape[0], d_out):
                raise shape_error(f"targets[{l}]: factors of shapes {a.shape} and {d.shape}; "
                                  f"expected T x {d_in} and T x {d_out}")
            t_counts[l] = a.shape[0]
            t_in[l], t_out[l] = a.ctypes.data_as(pointer), d.ctypes.data_as(pointer)
            alive += [a, d]
        else:
            g = A.contiguous(target, np.float32, f"targets[{l}]")
            if g.shape != (d_out, d_in):
                raise shape_error(f"targets[{l}]: gradient of shape {g.shape}; expected "
                                  f"d_out x d_in = ({d_out}, {d_in})")
            t_grad[l] = g.ctypes.data_as(pointer)
            alive.append(g)
    out = np.zeros(b.samples, dtype=np.float32)
    paths = np.zeros(n, dtype=np.int32)
    check(lib.wn_ghost_target_dots_f32(
        n, din, dout, b.samples, b.counts_pointer(), b.total, b.inputs, b.outputs,
        t_counts.ctypes.data_as(ctypes.POINTER(ctypes.c_size_t)), t_in, t_out, t_grad,
        _path(path), A.f32(out), out.size, A.i32(paths)))
    del keep, alive
    return (out, [PATH_NAMES[p] for p in paths]) if with_paths else out
