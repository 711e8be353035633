"""The outputs of a selection, written exactly as ``winnow select`` writes
them: ids (``<i8`` ``.npy``, best first), the CSV listing ``rank,id,score``
and a JSON manifest; each file appears atomically (temporary, fsync, rename).
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile

import numpy as np


def count_for_fraction(fraction: float, eligible: int) -> int:
    """``round(fraction * eligible)``, ties away from zero (Swift's
    ``rounded()``), at least 1 and at most ``eligible``."""
    x = fraction * eligible
    r = math.floor(x)
    if x - r >= 0.5:  # exact: x - floor(x) has no rounding error
        r += 1
    return min(eligible, max(1, int(r)))


def swift_float(value) -> str:
    """``value`` (float32) as Swift's ``Float.description`` prints it: the
    shortest digits that round-trip, exponential below 1e-4 and above 2^24."""
    x = np.float32(value)
    if not np.isfinite(x):
        return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")
    scientific = np.format_float_scientific(x, unique=True, trim="-", exp_digits=2)
    exponent = int(scientific.split("e")[1])
    if x != 0 and (exponent < -4 or abs(x) > np.float32(2**24)):
        return scientific
    return np.format_float_positional(x, unique=True, trim="0")


def npy_bytes(values: np.ndarray) -> bytes:
    """The ``.npy`` (version 1.0) bytes of a 1-D array, as ``winnow`` writes them."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(values), version=(1, 0))
    return buffer.getvalue()


def write_atomically(path: str, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path``, fsyncs it and
    renames it onto ``path``: readers see the old file or the new one, whole,
    and a rerun replaces the file with identical bytes."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def listing_csv(ids: np.ndarray, scores: np.ndarray) -> bytes:
    lines = ["rank,id,score"]
    lines += [f"{r + 1},{int(i)},{swift_float(s)}" for r, (i, s) in enumerate(zip(ids, scores))]
    return ("\n".join(lines) + "\n").encode()


def manifest_json(obj: dict) -> bytes:
    """Sorted keys, two-space indent and ``" : "`` as Foundation prints them."""
    return (json.dumps(obj, indent=2, sort_keys=True, separators=(",", " : "),
                       ensure_ascii=False) + "\n").encode()
