"""Coming from LESS: import its gradient features, write its selection files.

LESS (princeton-nlp/LESS) stores one folder per checkpoint and optimizer,
``<name>-ckpt<N>-{adam|sgd}/dim<k>/``, holding ``all_orig.pt`` (rows
L2-normalized) and ``all_unormalized.pt``: each a ``torch.save`` of one
``N x k`` tensor. Its selection step writes ``sorted.csv`` (``file name,
index, score``) and ``top_p<pct>.jsonl`` (the chosen lines of the training
``.jsonl`` files), which its fine-tuning script reads.

``import_checkpoints`` turns each folder into a Winnow feature store (one per
checkpoint, carrying the checkpoint's name and weight) through the native
``winnow store import --from raw``: torch is needed only to read the tensor's
dtype and shape; the rows are streamed by the CLI straight from the archive
member (stored uncompressed), resumably and checksummed.
``export_selection`` writes LESS's two files from ``winnow score`` and
``winnow select`` outputs. Command line: ``python -m winnow.less import|export``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["LessFolder", "tensor_layout", "parse_folder", "import_checkpoints",
           "subtask_groups", "export_selection"]

_FOLDER = re.compile(r"^(?P<name>.+)-ckpt(?P<ckpt>\d+)-(?P<optimizer>adam|sgd)$")
_ELEMENTS = {"torch.float32": "float32", "torch.float16": "float16", "torch.bfloat16": "bfloat16"}


@dataclass(frozen=True)
class LessFolder:
    """One LESS gradient folder: ``<name>-ckpt<N>-<optimizer>/dim<k>``."""

    path: Path
    name: str
    checkpoint: int
    optimizer: str
    k: int


def parse_folder(path: str | os.PathLike) -> LessFolder:
    """Reads name, checkpoint, optimizer and k from a LESS folder's path."""
    path = Path(path)
    dim = re.fullmatch(r"dim(\d+)", path.name)
    match = _FOLDER.match(path.parent.name)
    if dim is None or match is None:
        raise ValueError(f"{path}: not a LESS gradient folder <name>-ckpt<N>-{{adam|sgd}}/dim<k>")
    return LessFolder(path, match["name"], int(match["ckpt"]), match["optimizer"], int(dim[1]))


def tensor_layout(pt_file: str | os.PathLike) -> dict:
    """Where the ``N x k`` tensor of a ``torch.save`` file lies, for the CLI.

    Returns ``offset`` (bytes into the file), ``rows``, ``cols`` and
    ``element`` (float32, float16 or bfloat16). Raises ``ValueError`` naming
    the file when it is not a zip-format save of one contiguous 2-D float
    tensor stored uncompressed and little-endian, or when it is truncated.
    """
    import torch  # only here: the rest of the module needs no torch

    path = str(pt_file)
    try:
        tensor = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as error:  # torch raises several types for bad archives
        raise ValueError(f"{path}: not a readable torch.save file (truncated or corrupt?): {error}") from error
    if not torch.is_tensor(tensor) or tensor.dim() != 2 or str(tensor.dtype) not in _ELEMENTS:
        raise ValueError(f"{path}: expected one 2-D float32/float16/bfloat16 tensor")
    if not tensor.is_contiguous():
        raise ValueError(f"{path}: the tensor is not contiguous; re-save it with .contiguous()")
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if re.search(r"/data/\d+$", m.filename)]
        orders = [m for m in archive.infolist() if m.filename.endswith("/byteorder")]
        if orders and archive.read(orders[0]).strip() != b"little":
            raise ValueError(f"{path}: big-endian tensor data is not supported")
    if len(members) != 1 or members[0].compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{path}: expected one uncompressed tensor storage, found {len(members)}")
    member = members[0]
    with open(path, "rb") as f:  # the data follows the member's local header
        f.seek(member.header_offset)
        header = f.read(30)
    if header[:4] != b"PK\x03\x04":
        raise ValueError(f"{path}: corrupt zip member header for {member.filename}")
    start = member.header_offset + 30 + int.from_bytes(header[26:28], "little") \
        + int.from_bytes(header[28:30], "little")
    item = tensor.element_size()
    need = (tensor.storage_offset() + tensor.numel()) * item
    if member.file_size < need:
        raise ValueError(f"{path}: storage holds {member.file_size} bytes, the tensor needs {need}")
    rows, cols = tensor.shape
    return {"offset": start + tensor.storage_offset() * item, "rows": int(rows), "cols": int(cols),
            "element": _ELEMENTS[str(tensor.dtype)]}


def _cli(cli: str | None) -> str:
    found = cli or os.environ.get("WINNOW_CLI") or shutil.which("winnow")
    if not found:
        raise FileNotFoundError("the winnow CLI was not found: pass cli=, set WINNOW_CLI or put it on PATH")
    return found


def import_checkpoints(folders: Sequence[str | os.PathLike], store_root: str | os.PathLike,
                       weights: Sequence[float] | None = None, *, normalized: bool = True,
                       store_dtype: str = "f32", shard_rows: int = 65536,
                       cli: str | None = None) -> list[Path]:
    """Imports LESS gradient folders, one feature store per folder.

    Each ``<name>-ckpt<N>-<opt>/dim<k>`` becomes ``store_root/<name>-ckpt<N>-<opt>``
    with checkpoint label ``ckpt<N>``, the folder's weight (LESS: the epoch's
    mean learning rate; default 1) and its source recorded as LESS's
    projection (TRAK Rademacher, seed 0, model id 0, k). ``normalized``
    picks ``all_orig.pt`` (rows L2-normalized) or ``all_unormalized.pt``.
    Every file is checked before any store is written; a store appears only
    when complete, and a rerun resumes an interrupted import.
    """
    weights = list(weights) if weights is not None else [1.0] * len(folders)
    if len(weights) != len(folders):
        raise ValueError(f"{len(weights)} weights for {len(folders)} folders")
    name = "all_orig.pt" if normalized else "all_unormalized.pt"
    plans = []
    for folder in folders:
        less = parse_folder(folder)
        layout = tensor_layout(less.path / name)
        if layout["cols"] != less.k:
            raise ValueError(f"{less.path / name}: rows of {layout['cols']} features in a dim{less.k} folder")
        plans.append((less, layout))
    stores = []
    for (less, layout), weight in zip(plans, weights):
        store = Path(store_root) / less.path.parent.name
        command = [_cli(cli), "store", "import", "--from", "raw", "--input", str(less.path / name),
                   "--store", str(store), "--offset", str(layout["offset"]), "--rows", str(layout["rows"]),
                   "--cols", str(layout["cols"]), "--element", layout["element"],
                   "--source-tool", "less", "--source-projector", "rademacher", "--source-seed", "0",
                   "--source-model-id", "0", "--normalization", "l2" if normalized else "none",
                   "--checkpoint", f"ckpt{less.checkpoint}", "--weight", repr(float(weight)),
                   "--dtype", store_dtype, "--shard-rows", str(shard_rows)]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"{less.path / name}: import failed: {run.stderr.strip()}")
        stores.append(store)
    return stores


def subtask_groups(rows: int, subtasks: int) -> np.ndarray:
    """LESS's subtask labels of ``rows`` validation rows (equal, contiguous
    blocks, as its ``reshape(N, subtasks, -1)`` assumes), for ``--target-groups``."""
    if subtasks <= 0 or rows % subtasks:
        raise ValueError(f"{rows} validation rows do not split into {subtasks} equal subtasks")
    return np.repeat(np.arange(subtasks, dtype=np.int64), rows // subtasks)


def export_selection(scores: str | os.PathLike | Sequence[str | os.PathLike], selected: str | os.PathLike,
                     train_files: Sequence[str | os.PathLike], train_file_names: Sequence[str],
                     percentage: float, output_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Writes LESS's ``sorted.csv`` and ``top_p<percentage>.jsonl``.

    ``scores``: ``winnow score``'s ``(N,)`` scores of the pool made by
    concatenating ``train_files`` in order, or one score file per train file
    (LESS's ``<train>_influence_score``; as in LESS, file ``i`` then supplies
    its first ``len(scores[i])`` lines); ``selected``: ``winnow select``'s row
    indices into that pool (scores concatenated), best first. ``sorted.csv`` lists every row by descending
    score (ties: ascending row, as Winnow selects), as ``<name>, <index in
    its file>, <score rounded to 6 places>``; the jsonl holds the selected
    rows' lines, in selection order. Returns both paths.
    """
    per_file = not isinstance(scores, (str, os.PathLike))
    parts = [np.load(p) for p in scores] if per_file else [np.load(scores)]
    chosen = np.load(selected)
    if len(train_files) != len(train_file_names) or (per_file and len(parts) != len(train_files)):
        raise ValueError(f"{len(train_files)} train files, {len(train_file_names)} names, {len(parts)} score files")
    if any(p.ndim != 1 for p in parts):
        raise ValueError(f"{scores}: scores must be 1-D arrays")
    values = np.concatenate(parts)
    lines = []
    for path in train_files:
        with open(path, "r", encoding="utf-8", errors="ignore") as f:
            lines.append(f.readlines())
    counts = np.array([len(p) for p in parts] if per_file else [len(x) for x in lines], dtype=np.int64)
    short = [str(f) for f, x, n in zip(train_files, lines, counts) if len(x) < n]
    if short or counts.sum() != values.size:
        raise ValueError(f"{scores}: {values.size} scores but {', '.join(map(str, train_files))} "
                         f"hold {[len(x) for x in lines]} lines")
    if chosen.ndim != 1 or (chosen.size and (chosen.min() < 0 or chosen.max() >= values.size)):
        raise ValueError(f"{selected}: selected rows must be row indices in [0, {values.size})")
    file_of = np.repeat(np.arange(len(counts)), counts)
    local = np.arange(values.size) - np.repeat(np.cumsum(counts) - counts, counts)
    order = np.lexsort((np.arange(values.size), -values.astype(np.float64)))
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    sorted_csv = out / "sorted.csv"
    with open(sorted_csv, "w", encoding="utf-8") as f:
        f.write("file name, index, score\n")
        for row in order:
            f.write(f"{train_file_names[file_of[row]]}, {local[row]}, {round(float(values[row]), 6)}\n")
    top = out / f"top_p{percentage}.jsonl"
    with open(top, "w", encoding="utf-8", errors="ignore") as f:
        for row in chosen:
            f.write(lines[file_of[row]][local[row]])
    return sorted_csv, top


def _main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m winnow.less", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser("import", help="LESS gradient folders -> one Winnow store each")
    imp.add_argument("folders", nargs="+", help="<name>-ckpt<N>-{adam|sgd}/dim<k> folders")
    imp.add_argument("--store-root", required=True, help="directory for the stores")
    imp.add_argument("--checkpoint-weights", type=float, nargs="+", help="one per folder (LESS's)")
    imp.add_argument("--unnormalized", action="store_true", help="import all_unormalized.pt")
    imp.add_argument("--dtype", default="f32", choices=["f32", "f16"], help="store dtype")
    exp = commands.add_parser("export", help="write LESS's sorted.csv and top_p<pct>.jsonl")
    exp.add_argument("--scores", nargs="+", required=True,
                     help="winnow score output(s): one (N,) .npy, or one per train file")
    exp.add_argument("--selected", required=True, help="winnow select output (row indices)")
    exp.add_argument("--train-files", nargs="+", required=True, help="the pool's .jsonl files, in order")
    exp.add_argument("--train-file-names", nargs="+", required=True, help="their names in sorted.csv")
    exp.add_argument("--percentage", type=float, required=True, help="names top_p<percentage>.jsonl")
    exp.add_argument("--output-dir", required=True)
    args = parser.parse_args(argv)
    if args.command == "import":
        for store in import_checkpoints(args.folders, args.store_root, args.checkpoint_weights,
                                        normalized=not args.unnormalized, store_dtype=args.dtype):
            print(store)
    else:
        scores = args.scores[0] if len(args.scores) == 1 else args.scores
        for path in export_selection(scores, args.selected, args.train_files, args.train_file_names,
                                     args.percentage, args.output_dir):
            print(path)


if __name__ == "__main__":
    _main()
