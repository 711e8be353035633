"""Reading a feature store through the library: rows, ids and checksums.

A feature store is the directory ``winnow project --store`` and ``winnow
store import`` write (shards of features and ids, and a manifest). A
``FeatureStore`` reads it as the command line does, so a worker that scores
one shard (``winnow.ray``) checks the same shapes and checksums::

    with winnow.FeatureStore(path, shard=3) as store:   # one shard
        for row in range(0, store.rows, block):
            features = store.read(row, min(block, store.rows - row))
        store.finish_verification()                    # the shard's verdict
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from . import _arrays as A
from ._errors import check
from ._handle import LibraryObject
from ._lib import lib

VERIFY = {"none": 0, "while-reading": 1, "when-opened": 2}


class FeatureStore(LibraryObject):
    """An open feature store, or one shard of it (``shard=s``: its rows are
    then rows ``0..rows-1``).

    ``verify``: ``"while-reading"`` (default) hashes each shard as its rows
    are read and fails the read that reaches a shard's last row on a
    mismatch; ``finish_verification()`` hashes what was not read.
    ``"when-opened"`` hashes every file before the constructor returns;
    ``"none"`` skips checksums. Errors name the file (``FormatError`` for a
    mismatch, ``LibraryIOError`` for a missing file).
    """

    _kind = "store"

    def __init__(self, directory, *, shard: int | None = None, verify: str = "while-reading"):
        if verify not in VERIFY:
            raise ValueError(f"verify must be one of {sorted(VERIFY)}, got {verify!r}")
        handle = ctypes.c_void_p()
        check(lib.wn_store_open(ctypes.byref(handle), os.fsencode(directory),
                                -1 if shard is None else int(shard), VERIFY[verify]))
        self._handle = handle
        rows, k, shards = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
        self._check(lib.wn_store_dims(self._handle, ctypes.byref(rows), ctypes.byref(k),
                                      ctypes.byref(shards)))
        self.rows, self.k, self.shards = int(rows.value), int(k.value), int(shards.value)

    def read(self, row: int, rows: int, out=None) -> np.ndarray:
        """Rows ``row .. row+rows-1`` as a ``rows x k`` float32 array (into
        ``out`` when given: C-contiguous float32 of that shape)."""
        if out is None:
            out = np.empty((rows, self.k), dtype=np.float32)
        elif out.dtype != np.float32 or not out.flags.c_contiguous or out.shape != (rows, self.k):
            raise ValueError(f"out must be a C-contiguous float32 array of shape {(rows, self.k)}")
        self._check(lib.wn_store_read_f32(self._handle, row, rows, A.f32(out), out.size))
        return out

    def ids(self, row: int = 0, rows: int | None = None) -> np.ndarray:
        """The sample ids of rows ``row .. row+rows-1`` (default: to the end)."""
        rows = self.rows - row if rows is None else rows
        out = np.empty(rows, dtype=np.int64)
        self._check(lib.wn_store_ids(self._handle, row, rows, A.i64(out), out.size))
        return out

    def finish_verification(self) -> None:
        """Hashes the rows not read yet and raises on a checksum mismatch."""
        self._check(lib.wn_store_finish_verification(self._handle))
