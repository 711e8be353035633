"""Deterministic selection over a score array: best first, ties by index."""

from __future__ import annotations

import ctypes

import numpy as np

from . import _arrays as A
from ._errors import check
from ._lib import lib


def _select(function, scores, argument) -> np.ndarray:
    s = A.contiguous(scores, np.float32, "scores", ndim=1)
    count = ctypes.c_size_t()
    check(function(A.f32(s), s.size, argument, None, 0, ctypes.byref(count)))
    out = np.empty(count.value, dtype=np.int64)
    check(function(A.f32(s), s.size, argument, A.i64(out), out.size, ctypes.byref(count)))
    return out


def select_top_k(scores, k: int) -> np.ndarray:
    """Indices of the ``k`` highest of ``scores`` (1-D, finite), best first.

    Ties go to the lower index. Raises ``WinnowError`` for ``k`` outside
    ``1..len(scores)`` or a non-finite score.
    """
    return _select(lib.wn_select_top_k, scores, k)


def select_top_fraction(scores, fraction: float) -> np.ndarray:
    """Indices of the best ``round(fraction * n)`` (at least one) scores, best first."""
    return _select(lib.wn_select_top_fraction, scores, fraction)


def select_threshold(scores, threshold: float) -> np.ndarray:
    """Indices of every score ``>= threshold``, best first (possibly empty)."""
    return _select(lib.wn_select_threshold, scores, threshold)
