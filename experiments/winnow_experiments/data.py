"""The fortunes corpus: installing it, reading it, and cutting it into domains.

Debian's ``fortunes*`` packages install short texts ("fortune cookies") under
``/usr/share/games/fortunes``, one file per topic, records separated by lines
holding only ``%``. A *domain* is a language (``de``, ``es``, ``it``, ``pt``,
``pl``, ``cs``, ``ru``) or, for English, one topic file (``en/computers``).

Decisions, documented in ``experiments/README.md``:

* Files are found through ``dpkg -L <package>``, so the package a file comes
  from decides its language (``fortunes-it`` and ``fortunes-br`` also put files
  at the top level). ``.dat`` index files, symlinks (``*.u8``, ``cz/``) and
  ``off/`` folders (offensive fortunes, which Debian ships separately for the
  English package) are skipped.
* Bytes are decoded as UTF-8; a file that is not valid UTF-8 falls back to the
  language's legacy code page (cp1250 for pl/cs, koi8-r for ru, latin-1
  otherwise) with ``errors="replace"``. Whitespace runs collapse to one space.
* Records shorter than ``MIN_BYTES`` UTF-8 bytes are dropped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

PACKAGES = {
    "fortunes": "en",
    "fortunes-de": "de",
    "fortunes-es": "es",
    "fortunes-it": "it",
    "fortunes-br": "pt",
    "fortunes-pl": "pl",
    "fortunes-cs": "cs",
    "fortunes-ru": "ru",
}
LEGACY = {"pl": "cp1250", "cs": "cp1250", "ru": "koi8-r"}
MIN_BYTES = 16
_SPACE = re.compile(r"\s+")


def _sudo() -> list[str]:
    return [] if os.geteuid() == 0 else ["sudo"]


def ensure_installed(quiet: bool = False) -> None:
    """Installs the missing fortunes packages with apt-get (sudo when not root)."""
    missing = [p for p in PACKAGES if not _installed(p)]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise RuntimeError(f"packages {missing} are missing and apt-get is not available")
    if not quiet:
        print(f"installing {' '.join(missing)} …", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(_sudo() + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(_sudo() + ["apt-get", "install", "-y", "-qq", *missing],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def _installed(package: str) -> bool:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                       capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def _package_files(package: str) -> list[str]:
    out = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    files = []
    for path in out:
        if "/games/fortunes/" not in path or path.endswith(".dat"):
            continue
        if "/off/" in path or os.path.islink(path) or not os.path.isfile(path):
            continue
        files.append(path)
    return sorted(files)


def _decode(raw: bytes, lang: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode(LEGACY.get(lang, "latin-1"), errors="replace")


def _domain(path: str, lang: str) -> str:
    if lang != "en":
        return lang
    name = os.path.basename(path)
    return f"en/{name}"


@dataclass(frozen=True)
class Corpus:
    """Every record: its UTF-8 bytes, its domain index and its language index.

    ``domains[d]`` names domain ``d``; ``languages[l]`` names language ``l``.
    """

    texts: tuple[bytes, ...]
    domain: np.ndarray  # (N,) int32
    language: np.ndarray  # (N,) int32
    domains: tuple[str, ...]
    languages: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def domain_index(self, name: str) -> int:
        if name not in self.domains:
            raise ValueError(f"unknown domain {name!r}; run with --list-domains")
        return self.domains.index(name)

    def counts(self) -> dict[str, int]:
        c = np.bincount(self.domain, minlength=len(self.domains))
        return {d: int(n) for d, n in zip(self.domains, c)}


@lru_cache(maxsize=1)
def load_corpus(min_topic: int = 150) -> Corpus:
    """Reads every fortunes file installed by ``PACKAGES``.

    English topic files with fewer than ``min_topic`` records are pooled into
    the domain ``en/other`` so that every domain has enough texts to be a
    target.
    """
    ensure_installed(quiet=True)
    records: list[tuple[bytes, str, str]] = []
    for package, lang in PACKAGES.items():
        for path in _package_files(package):
            with open(path, "rb") as f:
                text = _decode(f.read(), lang)
            for rec in re.split(r"(?m)^%\s*$", text):
                rec = _SPACE.sub(" ", rec).strip()
                b = rec.encode("utf-8")
                if len(b) >= MIN_BYTES:
                    records.append((b, _domain(path, lang), lang))
    sizes: dict[str, int] = {}
    for _, d, _ in records:
        sizes[d] = sizes.get(d, 0) + 1
    small = {d for d, n in sizes.items() if d.startswith("en/") and n < min_topic}
    records = [(b, "en/other" if d in small else d, l) for b, d, l in records]
    domains = tuple(sorted({d for _, d, _ in records}))
    languages = tuple(sorted(set(PACKAGES.values())))
    dix = {d: i for i, d in enumerate(domains)}
    lix = {l: i for i, l in enumerate(languages)}
    return Corpus(
        texts=tuple(b for b, _, _ in records),
        domain=np.array([dix[d] for _, d, _ in records], dtype=np.int32),
        language=np.array([lix[l] for _, _, l in records], dtype=np.int32),
        domains=domains,
        languages=languages,
    )


def encode_bytes(texts, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Pads byte strings into an ``N × max_len`` uint8 matrix plus lengths.

    Texts longer than ``max_len`` are cut (at a byte, not a character:
    the model is byte-level).
    """
    n = len(texts)
    out = np.zeros((n, max_len), dtype=np.uint8)
    lengths = np.empty(n, dtype=np.int32)
    for i, t in enumerate(texts):
        t = t[:max_len]
        out[i, : len(t)] = np.frombuffer(t, dtype=np.uint8)
        lengths[i] = len(t)
    return out, lengths


def list_domains() -> str:
    """A printable table of every domain and its record count."""
    c = load_corpus()
    counts = c.counts()
    lines = [f"{'domain':<24}{'texts':>8}", "-" * 32]
    lines += [f"{d:<24}{counts[d]:>8}" for d in c.domains]
    lines += ["-" * 32, f"{'total':<24}{len(c):>8}"]
    return "\n".join(lines)
