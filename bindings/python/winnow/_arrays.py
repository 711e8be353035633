"""Turning NumPy arrays into the pointers winnow.h expects.

C-contiguous arrays of the right dtype are passed without a copy (the C side
reads them in place during the call). Anything else — another dtype, a
strided view, a Fortran-ordered array, a list — is converted with
``numpy.ascontiguousarray``, which copies; pass ``float32`` C-ordered arrays
to avoid that cost on large gradient batches.
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import _lib


def contiguous(array, dtype, name: str, ndim: int | None = None) -> np.ndarray:
    """``array`` as a C-contiguous array of ``dtype`` (a copy only if needed)."""
    a = np.ascontiguousarray(array, dtype=dtype)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {a.shape}")
    return a


def pointer(a: np.ndarray | None, ctype):
    """A ctypes pointer to ``a``'s data, or NULL for ``None``."""
    if a is None:
        return None
    return a.ctypes.data_as(ctypes.POINTER(ctype))


def f32(a):
    return pointer(a, ctypes.c_float)


def f64(a):
    return pointer(a, ctypes.c_double)


def i64(a):
    return pointer(a, ctypes.c_int64)


def i32(a):
    return pointer(a, ctypes.c_int32)


def u16(a):
    return pointer(a, ctypes.c_uint16)


__all__ = ["contiguous", "pointer", "f32", "f64", "i64", "i32", "u16", "_lib"]
