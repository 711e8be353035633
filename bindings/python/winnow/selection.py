"""Deterministic selection over a score array: best first, ties by index.

A score of ``-inf`` marks an excluded sample (a row ``Scorer`` skipped): it
is never selected and does not count towards the eligible rows ``E``.
``Selection`` applies the rule of ``winnow select`` and writes its files
(ids, CSV listing, manifest) through the library, byte for byte as the
command does.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from . import _arrays as A
from ._errors import check
from ._handle import LibraryObject
from ._lib import lib


def _select(function, scores, argument) -> np.ndarray:
    s = A.contiguous(scores, np.float32, "scores", ndim=1)
    count = ctypes.c_size_t()
    check(function(A.f32(s), s.size, argument, None, 0, ctypes.byref(count)))
    out = np.empty(count.value, dtype=np.int64)
    check(function(A.f32(s), s.size, argument, A.i64(out), out.size, ctypes.byref(count)))
    return out


def select_top_k(scores, k: int) -> np.ndarray:
    """Indices of the ``k`` highest of ``scores`` (1-D, finite or ``-inf``),
    best first.

    Ties go to the lower index. Raises ``WinnowError`` for ``k`` outside
    ``1..E`` (``E`` the scores that are not ``-inf``), NaN or ``+inf``.
    """
    return _select(lib.wn_select_top_k, scores, k)


def select_top_fraction(scores, fraction: float) -> np.ndarray:
    """Indices of the best ``round(fraction * E)`` (at least one) scores, best
    first; ``E`` counts the scores that are not ``-inf``."""
    return _select(lib.wn_select_top_fraction, scores, fraction)


def select_threshold(scores, threshold: float) -> np.ndarray:
    """Indices of every score ``>= threshold``, best first (possibly empty)."""
    return _select(lib.wn_select_threshold, scores, threshold)


RULES = {"top": 0, "fraction": 1, "threshold": 2}


def _rule(top, fraction, threshold) -> tuple[int, float]:
    given = [(RULES[name], float(value)) for name, value in
             (("top", top), ("fraction", fraction), ("threshold", threshold)) if value is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of top, fraction, threshold")
    return given[0]


def rule_count(eligible: int, *, top: int | None = None, fraction: float | None = None,
               threshold: float | None = None) -> int:
    """How many rows the rule keeps of a pool with ``eligible`` eligible rows
    (``k``, or ``round(fraction * eligible)``, at least one; for a threshold,
    ``eligible``, the most it can keep). Raises ``InvalidArgumentError`` for
    a rule value out of range or ``k > eligible``."""
    rule, value = _rule(top, fraction, threshold)
    count = ctypes.c_size_t()
    check(lib.wn_selection_count(rule, value, int(eligible), ctypes.byref(count)))
    return int(count.value)


class Selection(LibraryObject):
    """The candidates a rule keeps, and the files that record them.

    ``Selection(scores, top=k)`` (or ``fraction=F``, ``threshold=T``) applies
    the rule of ``winnow select``: best first, ties by ascending position in
    ``scores``, ``-inf`` excluded. ``pool_eligible`` is for a pool cut
    elsewhere (``winnow.ray``): ``scores`` then hold, in pool order, every
    eligible row above the cut plus enough rows equal to it, and the rule's
    count refers to the pool's ``pool_eligible`` rows.

    ``indices`` are the selected positions into ``scores``; ``write`` writes
    the ids (``<i8`` ``.npy``), an optional CSV listing and JSON manifest.
    """

    _kind = "selection"

    def __init__(self, scores, *, top: int | None = None, fraction: float | None = None,
                 threshold: float | None = None, pool_eligible: int | None = None):
        rule, value = _rule(top, fraction, threshold)
        self.scores = A.contiguous(scores, np.float32, "scores", ndim=1)
        handle = ctypes.c_void_p()
        check(lib.wn_selection_create(ctypes.byref(handle), A.f32(self.scores), self.scores.size,
                                      rule, value, int(pool_eligible or 0)))
        self._handle = handle
        count = ctypes.c_size_t()
        self._check(lib.wn_selection_indices(self._handle, None, 0, ctypes.byref(count)))
        self.indices = np.empty(count.value, dtype=np.int64)
        self._check(lib.wn_selection_indices(self._handle, A.i64(self.indices), self.indices.size,
                                             ctypes.byref(count)))

    def write(self, output: str, *, ids=None, listing: str | None = None,
              manifest: str | None = None, fields: dict | None = None) -> None:
        """Writes the selected ids to ``output`` (best first; ``ids`` holds one
        id per candidate, default the positions), and optionally the listing
        and the manifest, whose ``fields`` (``tool``, ``inputs``, ...) join the
        library's (``rule``, ``selected``, ``outputsSHA256``, ...). Each file
        appears atomically."""
        import json

        i = None if ids is None else A.contiguous(ids, np.int64, "ids", ndim=1)
        text = None if fields is None else json.dumps(fields, allow_nan=False)

        def c(path):
            return None if path is None else os.fsencode(path)

        self._check(lib.wn_selection_write(self._handle, A.i64(i), 0 if i is None else i.size,
                                           c(output), c(listing), c(manifest),
                                           None if text is None else text.encode()))
