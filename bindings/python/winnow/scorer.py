"""Scoring a candidate pool piece by piece: the scores of ``winnow score``.

``Scorer`` reduces the targets once (one direction per target group and
checkpoint) and then scores any block of train rows. A row's score depends
only on its own features, so scoring a pool's shards separately, on any
machine, gives the same bits as ``winnow score`` on the whole pool::

    scorer = winnow.Scorer([targets_c1, targets_c2], weights=[2e-5, 1e-5],
                           groups=subtasks, measure="cosine")
    scores = scorer.score([block_c1, block_c2])      # (rows,) float32

Influence scores need the Gram matrix of the whole pool and are only
available through ``winnow score --measure influence``.
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import _arrays as A
from ._errors import check, shape_error
from ._handle import LibraryObject
from ._lib import lib

MEASURES = {"cosine": 0, "dot": 1, "influence": 2}


class Scorer(LibraryObject):
    """LESS scores of train rows against fixed targets (cosine or dot).

    ``score(i) = max over groups g of mean_{v in g} sum_c eta_c S_c(i, v)``
    with ``S_c`` the cosine (or dot product) of checkpoint ``c``'s train row
    and target row, and ``eta_c`` the weights renormalized to sum to 1.
    Not safe for concurrent use from several threads.

    Args:
        targets: one ``M x k_c`` array per checkpoint (plain projected
            gradients; the same ``M`` for every checkpoint).
        weights: one weight per checkpoint (default: equal).
        groups: ``M`` integer subtask labels (default: one group).
        measure: ``"cosine"`` (default) or ``"dot"``.
        skip_nonfinite: score train rows holding NaN/inf ``-inf`` (never
            selected) instead of raising.
    """

    _kind = "scorer"

    def __init__(self, targets, weights=None, groups=None, measure: str = "cosine",
                 skip_nonfinite: bool = False):
        if measure not in MEASURES:
            raise ValueError(f"measure must be one of {sorted(MEASURES)}, got {measure!r}")
        arrays = [A.contiguous(t, np.float32, f"targets[{c}]", ndim=2)
                  for c, t in enumerate(targets)]
        if not arrays:
            raise ValueError("give the targets of at least one checkpoint")
        rows = arrays[0].shape[0]
        for c, t in enumerate(arrays):
            if t.shape[0] != rows:
                raise shape_error(f"targets[{c}] has {t.shape[0]} rows, targets[0] has {rows}")
        self.dims = [int(t.shape[1]) for t in arrays]
        w = None
        if weights is not None:
            w = A.contiguous(weights, np.float64, "weights", ndim=1)
            if w.size != len(arrays):
                raise shape_error(f"{w.size} weights for {len(arrays)} checkpoints")
        g = None
        if groups is not None:
            g = A.contiguous(groups, np.int64, "groups", ndim=1)
            if g.size != rows:
                raise shape_error(f"{g.size} group labels for {rows} target rows")
        pointers = (A._lib.c_float_p * len(arrays))(*[A.f32(t) for t in arrays])
        dims = (ctypes.c_size_t * len(arrays))(*self.dims)
        handle = ctypes.c_void_p()
        check(lib.wn_scorer_create(ctypes.byref(handle), MEASURES[measure], len(arrays),
                                   pointers, dims, rows, A.f64(w), A.i64(g),
                                   int(skip_nonfinite)))
        self._handle = handle
        self.measure = measure
        checkpoints, count = ctypes.c_size_t(), ctypes.c_size_t()
        self._check(lib.wn_scorer_dims(self._handle, ctypes.byref(checkpoints),
                                       ctypes.byref(count)))
        self.group_count = int(count.value)
        #: Rows skipped (scored -inf) by the last ``score`` call.
        self.last_skipped = 0

    def score(self, train, out=None) -> np.ndarray:
        """Scores ``rows`` train rows: one ``rows x k_c`` array per checkpoint.

        ``float32`` C-ordered arrays (a memory-mapped ``.npy`` slice, say) are
        read in place; other dtypes (``float16``) are converted first. Returns
        ``rows`` ``float32`` scores, ``-inf`` for skipped rows.
        """
        if self._handle is None:
            raise ValueError("the scorer is closed")
        blocks = [A.contiguous(x, np.float32, f"train[{c}]", ndim=2) for c, x in enumerate(train)]
        if len(blocks) != len(self.dims):
            raise shape_error(f"{len(blocks)} train blocks for {len(self.dims)} checkpoints")
        rows = blocks[0].shape[0]
        for c, x in enumerate(blocks):
            if x.shape != (rows, self.dims[c]):
                raise shape_error(f"train[{c}] has shape {x.shape}; expected ({rows}, {self.dims[c]})")
        if out is None:
            out = np.empty(rows, dtype=np.float32)
        elif out.dtype != np.float32 or not out.flags.c_contiguous or out.size < rows:
            raise ValueError(f"out must be a C-contiguous float32 array of at least {rows} values")
        pointers = (A._lib.c_float_p * len(blocks))(*[A.f32(x) for x in blocks])
        skipped = ctypes.c_size_t()
        self._check(lib.wn_scorer_score_f32(self._handle, pointers, rows, A.f32(out), out.size,
                                            ctypes.byref(skipped)))
        self.last_skipped = int(skipped.value)
        return out[:rows]

