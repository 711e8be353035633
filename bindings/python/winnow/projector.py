"""Random projections of gradients: the dense ``phi(g) = P^T g / sqrt(k)``
(DESIGN 2.1) and the sparse JL map (SJLT / CountSketch, DESIGN 2.8)."""

from __future__ import annotations

import ctypes

import numpy as np

from . import _arrays as A
from ._errors import check
from ._handle import LibraryObject
from ._lib import lib

KINDS = {"rademacher": 0, "gaussian": 1}


class Projector(LibraryObject):
    """Projects ``D``-dimensional gradients to ``k`` features.

    The matrix is keyed by ``(kind, seed)`` and by position, so results do
    not depend on batch size, thread count or how gradients are cut into
    pieces. Not safe for concurrent use from several threads.

    Args:
        input_dim: ``D >= 1``.
        output_dim: ``k >= 1``.
        kind: ``"rademacher"`` (default) or ``"gaussian"``.
        seed: the matrix's key.
        memory_budget: bytes the matrix may occupy (0: the library default, 1 GiB).
    """

    _kind = "projector"

    def __init__(self, input_dim: int, output_dim: int, kind: str = "rademacher",
                 seed: int = 0, memory_budget: int = 0):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
        handle = ctypes.c_void_p()
        check(lib.wn_projector_create(ctypes.byref(handle), KINDS[kind], seed, input_dim,
                                      output_dim, memory_budget))
        self._handle = handle
        self.input_dim, self.output_dim = input_dim, output_dim

    def project(self, x, offset: int = 0, out=None, accumulate: bool = False) -> np.ndarray:
        """Projects ``rows x length`` gradients into ``rows x k`` features.

        ``x`` holds columns ``offset .. offset+length-1`` of the gradients
        (the whole gradient by default). ``float16`` input is projected as
        half precision; other dtypes are converted to ``float32`` (a copy).
        With ``accumulate``, features are added to ``out`` (which must then
        be a C-contiguous ``float32`` array of ``rows x k``), so the pieces of
        a gradient sum to the whole's features.
        """
        return _project(self, "projector", x, offset, out, accumulate)


class SparseProjector(LibraryObject):
    """A sparse JL map (SJLT; CountSketch with ``nnz=1``) from ``D`` to ``k``.

    Each input coordinate has ``nnz`` nonzeros ``+-1/sqrt(nnz)``, keyed by
    ``(seed, coordinate)``; nothing is generated ahead, so a call is one read
    of the gradient, for any ``D`` (LoRA-of-7B's ``1.3e8`` included). Results
    are bit-identical for any batch size and thread count; pieces at their
    offsets sum to the whole. Safe to share between threads.

    Args:
        input_dim: ``D >= 1``.
        output_dim: ``k`` in ``1 .. 2**32 - 1``.
        nnz: nonzeros per coordinate, ``1 <= nnz <= min(k, 4096)``.
        seed: the map's key.
    """

    _kind = "sparse_projector"

    def __init__(self, input_dim: int, output_dim: int, nnz: int = 1, seed: int = 0):
        handle = ctypes.c_void_p()
        check(lib.wn_sparse_projector_create(ctypes.byref(handle), seed, input_dim,
                                             output_dim, nnz))
        self._handle = handle
        self.input_dim, self.output_dim, self.nnz, self.seed = input_dim, output_dim, nnz, seed

    def project(self, x, offset: int = 0, out=None, accumulate: bool = False) -> np.ndarray:
        """As ``Projector.project``: ``rows x length`` gradients (columns
        ``offset ..`` of ``D``; ``float16`` read as half precision) into
        ``rows x k`` features, overwritten or added to ``out``."""
        return _project(self, "sparse_projector", x, offset, out, accumulate)


def _project(p, kind, x, offset, out, accumulate):
    """The shared body of ``project``: checks, dtype dispatch, the C call."""
    x = np.asarray(x)
    half = x.dtype == np.float16
    x = A.contiguous(x, np.float16 if half else np.float32, "x")
    if x.ndim == 1:
        x = x.reshape(1, -1)
    if x.ndim != 2:
        raise ValueError(f"x must be 1-D or 2-D, got shape {x.shape}")
    rows, length = x.shape
    if out is None:
        out = np.zeros((rows, p.output_dim), dtype=np.float32)
    elif out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError("out must be a C-contiguous float32 array")
    if half:
        p._check(getattr(lib, f"wn_{kind}_project_piece_f16")(
            p._handle, x.view(np.uint16).ctypes.data_as(ctypes.POINTER(ctypes.c_uint16)),
            rows, offset, length, A.f32(out), out.size, int(accumulate)))
    else:
        p._check(getattr(lib, f"wn_{kind}_project_piece_f32")(
            p._handle, A.f32(x), rows, offset, length, A.f32(out), out.size, int(accumulate)))
    return out
