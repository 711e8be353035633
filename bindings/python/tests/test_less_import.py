"""LESS interop: features saved by torch.save in LESS's folder layout are
imported into Winnow stores, scored by `winnow score`, and exported as LESS's
sorted.csv / top_p<pct>.jsonl; checked against an independent NumPy
re-implementation of LESS's matching formula. Needs torch and the CLI
(`make test-importers` sets WINNOW_CLI and WINNOW_LIBRARY)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from winnow import less  # noqa: E402

CLI = os.environ.get("WINNOW_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="WINNOW_CLI is not set")

K, CKPTS, WEIGHTS = 16, (105, 211), (2e-5, 1e-5)
TRAIN = {"dolly": 30, "oasst": 20}
SUBTASKS, PER_SUBTASK = 3, 2


def _unit_rows(rng, n):
    x = rng.standard_normal((n, K))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _write_less(root: Path):
    """LESS's layout: <name>-ckpt<N>-{adam|sgd}/dim<k>/all_orig.pt, train rows
    in float16 (as LESS's fp16 features), validation rows in float32."""
    rng = np.random.default_rng(11)
    arrays, folders = {}, []
    for ckpt in CKPTS:
        for name, n in TRAIN.items():
            folders.append((name, ckpt, "adam", torch.tensor(_unit_rows(rng, n), dtype=torch.float16)))
        folders.append(("mmlu", ckpt, "sgd", torch.tensor(_unit_rows(rng, SUBTASKS * PER_SUBTASK), dtype=torch.float32)))
    paths = {}
    for name, ckpt, opt, tensor in folders:
        d = root / "grads" / f"{name}-ckpt{ckpt}-{opt}" / f"dim{K}"
        d.mkdir(parents=True)
        torch.save(tensor, d / "all_orig.pt")
        arrays[(name, ckpt)] = tensor.float().numpy().astype(np.float64)
        paths[(name, ckpt)] = d
    for name, n in TRAIN.items():  # as in LESS, a file may hold more lines than were scored
        with open(root / f"{name}.jsonl", "w") as f:
            for i in range(n + 3):
                f.write(json.dumps({"id": f"{name}-{i}", "text": "x" * i}) + "\n")
    return arrays, paths


def _less_reference(arrays, name):
    """LESS's matching.py, re-implemented: weights renormalized, Σ_c w_c T_c V_cᵀ,
    reshape (N, subtasks, -1), mean over each subtask, max over subtasks."""
    w = np.array(WEIGHTS) / sum(WEIGHTS)
    s = sum(w[i] * arrays[(name, c)] @ arrays[("mmlu", c)].T for i, c in enumerate(CKPTS))
    return s.reshape(s.shape[0], SUBTASKS, -1).mean(-1).max(-1)


def _run(*args, cwd):
    run = subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run


def test_less_features_score_and_export_like_less(tmp_path):
    arrays, paths = _write_less(tmp_path)
    weights = {105: WEIGHTS[0], 211: WEIGHTS[1]}
    stores = less.import_checkpoints(list(paths.values()), tmp_path / "stores",
                                     [weights[c] for (_, c) in paths], cli=CLI)
    assert [s.name for s in stores] == [p.parent.name for p in paths.values()]
    meta = json.load(open(tmp_path / "stores/dolly-ckpt211-adam/manifest.json"))["metadata"]
    assert (meta["checkpoint"], meta["weight"], meta["normalization"]) == ("ckpt211", 1e-5, "l2")
    assert (meta["source"]["tool"], meta["source"]["projector"], meta["source"]["seed"]) == ("less", "rademacher", 0)

    np.save(tmp_path / "groups.npy", less.subtask_groups(SUBTASKS * PER_SUBTASK, SUBTASKS))
    for name in TRAIN:  # one score file per train file, as LESS writes them; weights from the stores
        args = ["score", "--measure", "dot", "--target-groups", "groups.npy", "--output", f"{name}.npy"]
        for c in CKPTS:
            args += ["--train", f"stores/{name}-ckpt{c}-adam", "--target", f"stores/mmlu-ckpt{c}-sgd"]
        _run(*args, cwd=tmp_path)
        ours, ref = np.load(tmp_path / f"{name}.npy"), _less_reference(arrays, name)
        # fp32 sums of 2 checkpoints × 6 products of length 16 of unit rows vs fp64: each
        # product is within ~16·2⁻²⁴ ≈ 1e-6 of exact, and the weighted mean keeps that bound.
        assert np.max(np.abs(ours - ref)) < 2e-6

    scores = np.concatenate([np.load(tmp_path / f"{n}.npy") for n in TRAIN])
    np.save(tmp_path / "all.npy", scores)
    _run("select", "--scores", "all.npy", "--fraction", "0.1", "--output", "sel.npy", cwd=tmp_path)
    csv, top = less.export_selection([tmp_path / f"{n}.npy" for n in TRAIN], tmp_path / "sel.npy",
                                     [tmp_path / f"{n}.jsonl" for n in TRAIN], list(TRAIN), 0.1, tmp_path / "out")
    assert top.name == "top_p0.1.jsonl"
    module = subprocess.run(  # the command line writes the same files
        [sys.executable, "-m", "winnow.less", "export", "--scores", *[f"{n}.npy" for n in TRAIN],
         "--selected", "sel.npy", "--train-files", *[f"{n}.jsonl" for n in TRAIN], "--train-file-names",
         *TRAIN, "--percentage", "0.1", "--output-dir", "out2"], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(less.__file__).parents[1])})
    assert module.returncode == 0, module.stderr
    for name in ("sorted.csv", "top_p0.1.jsonl"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "out2" / name).read_bytes()

    ref = np.concatenate([_less_reference(arrays, n) for n in TRAIN])
    order = np.argsort(-ref, kind="stable")
    # Neighbours differ by more than twice the score error (2e-6): the ranking is determined.
    assert np.min(-np.diff(ref[order])) > 1e-5
    names = np.repeat(list(TRAIN), list(TRAIN.values()))
    local = np.concatenate([np.arange(n) for n in TRAIN.values()])
    lines = open(csv).read().splitlines()
    assert lines[0] == "file name, index, score"
    rows = [line.split(", ") for line in lines[1:]]
    assert [(r[0], int(r[1])) for r in rows] == [(names[i], int(local[i])) for i in order]
    assert all(abs(float(r[2]) - ref[i]) < 2e-5 for r, i in zip(rows, order))
    chosen = [json.loads(line)["id"] for line in open(top)]
    assert chosen == [f"{names[i]}-{local[i]}" for i in order[: round(0.1 * len(ref))]]


def test_truncated_or_inconsistent_less_files_name_the_file_and_import_nothing(tmp_path):
    _, paths = _write_less(tmp_path)
    folders = list(paths.values())
    bad = folders[1] / "all_orig.pt"
    size = bad.stat().st_size
    with open(bad, "r+b") as f:
        f.truncate(size - 200)
    with pytest.raises(ValueError, match="all_orig.pt"):
        less.import_checkpoints(folders, tmp_path / "stores", cli=CLI)
    assert not (tmp_path / "stores").exists()

    torch.save(torch.zeros(4, K + 1), bad)  # a dim16 folder holding 17 features per row
    with pytest.raises(ValueError, match=str(bad)):
        less.import_checkpoints(folders, tmp_path / "stores", cli=CLI)
    assert not (tmp_path / "stores").exists()

    # The native reader checks the file too: a layout claiming more rows than it holds.
    layout = less.tensor_layout(folders[0] / "all_orig.pt")
    run = subprocess.run([CLI, "store", "import", "--from", "raw", "--input", str(folders[0] / "all_orig.pt"),
                          "--store", str(tmp_path / "x"), "--offset", str(layout["offset"]),
                          "--rows", str(layout["rows"] * 100), "--cols", str(K), "--element", "float16"],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "all_orig.pt" in run.stderr and "truncated" in run.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.importing").exists()
