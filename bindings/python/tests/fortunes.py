"""Real text for the training-loop test: Debian's fortune cookies in three
languages (English, German, Spanish), as bag-of-bytes features."""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path("/usr/share/games/fortunes")
LANGUAGES = {"en": ROOT, "de": ROOT / "de", "es": ROOT / "es"}


def records(folder: Path) -> list[str]:
    """The fortunes of every data file in `folder` (records end at a `%` line)."""
    texts = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.is_symlink() or path.suffix in (".dat", ".u8"):
            continue
        raw = path.read_bytes().decode("utf-8", errors="replace")
        for record in raw.split("\n%\n"):
            record = record.strip()
            if 40 <= len(record) <= 600:
                texts.append(record)
    return texts


def available() -> bool:
    return all(folder.is_dir() for folder in LANGUAGES.values())


def dataset(per_language: int, seed: int = 0):
    """`(x, y)`: `n x 257` normalized byte histograms plus a bias column, and
    language labels 0..2; `per_language` random fortunes of each language."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label, folder in enumerate(LANGUAGES.values()):
        texts = records(folder)
        chosen = rng.choice(len(texts), size=min(per_language, len(texts)), replace=False)
        for i in chosen:
            counts = np.bincount(np.frombuffer(texts[i].encode(), np.uint8), minlength=256)
            xs.append(np.append(np.sqrt(counts / counts.sum()), 1.0))
            ys.append(label)
    return np.asarray(xs, np.float32), np.asarray(ys, np.int64)
