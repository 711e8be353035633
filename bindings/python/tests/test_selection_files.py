"""winnow.Selection and winnow.FeatureStore: the rule and files of `winnow
select`, and store reading, through the library (checked against NumPy and
against the `winnow` command when it is built)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import winnow

REPO = Path(__file__).resolve().parents[3]
CLI = os.environ.get("WINNOW_CLI", str(REPO / ".build" / "release" / "winnow"))
FIXTURE = REPO / "Tests" / "Fixtures" / "store-v1"


def _scores(n=500, seed=2):
    rng = np.random.default_rng(seed)
    s = (rng.integers(0, 9, n) / 8).astype(np.float32)  # many ties
    s[::31] = -np.inf
    return s


def _reference(s, k):
    eligible = np.flatnonzero(np.isfinite(s))
    order = eligible[np.lexsort((eligible, -s[eligible]))]
    return order[:k]


@pytest.mark.parametrize("rule", [{"top": 40}, {"fraction": 0.05}, {"threshold": 0.75}])
def test_selection_matches_numpy(rule):
    s = _scores()
    eligible = int(np.isfinite(s).sum())
    k = winnow.selection.rule_count(eligible, **rule)
    if "threshold" in rule:
        k = int((s >= np.float32(rule["threshold"])).sum())
    elif "fraction" in rule:
        assert k == int(np.floor(rule["fraction"] * eligible + 0.5))
    with winnow.Selection(s, **rule) as chosen:
        assert np.array_equal(chosen.indices, _reference(s, k))


@pytest.mark.skipif(not os.path.exists(CLI), reason="the winnow executable is not built")
def test_the_files_are_the_bytes_winnow_select_writes(tmp_path):
    s = _scores()
    ids = np.arange(len(s), dtype=np.int64) * 7 - 100
    np.save(tmp_path / "scores.npy", s)
    np.save(tmp_path / "ids.npy", ids)
    subprocess.run([CLI, "select", "--scores", tmp_path / "scores.npy", "--fraction", "0.05",
                    "--ids", tmp_path / "ids.npy", "--output", tmp_path / "cli.npy",
                    "--listing", tmp_path / "cli.csv", "--manifest", tmp_path / "cli.json"],
                   check=True, capture_output=True)
    with winnow.Selection(s, fraction=0.05) as chosen:
        chosen.write(str(tmp_path / "py.npy"), ids=ids, listing=str(tmp_path / "py.csv"),
                     manifest=str(tmp_path / "py.json"), fields={"tool": "test"})
    assert (tmp_path / "cli.npy").read_bytes() == (tmp_path / "py.npy").read_bytes()
    assert (tmp_path / "cli.csv").read_bytes() == (tmp_path / "py.csv").read_bytes()
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("cli", "py"))
    for key in ("rule", "tieBreak", "selected", "winnowVersion"):
        assert a[key] == b[key], key
    assert a["outputsSHA256"] == b["outputsSHA256"]


def test_bad_requests_raise_and_write_nothing(tmp_path):
    s = _scores()
    with pytest.raises(ValueError, match="exactly one"):
        winnow.Selection(s, top=3, fraction=0.1)
    with pytest.raises(winnow.InvalidArgumentError, match="eligible pool size"):
        winnow.Selection(s, top=len(s))
    with pytest.raises(winnow.NonFiniteError):
        winnow.Selection(np.array([1, np.nan], dtype=np.float32), top=1)
    with winnow.Selection(s, top=3) as chosen:
        with pytest.raises(winnow.InvalidArgumentError, match='"selected"'):
            chosen.write(str(tmp_path / "a.npy"), manifest=str(tmp_path / "m.json"),
                         fields={"selected": 1})
        with pytest.raises(winnow.ShapeError):
            chosen.write(str(tmp_path / "a.npy"), ids=np.arange(3))
    assert not list(tmp_path.iterdir())


def test_a_store_reads_as_its_shards_hold_it():
    with winnow.FeatureStore(FIXTURE) as store:
        assert (store.rows, store.k, store.shards) == (12, 4, 3)
        want = np.concatenate([np.load(FIXTURE / f"shard-00000{s}.features.npy") for s in range(3)])
        assert np.array_equal(store.read(0, 12), want)
        assert np.array_equal(store.read(4, 3), want[4:7])
        assert np.array_equal(store.ids(), 1 + 3 * np.arange(12))
        store.finish_verification()
    with winnow.FeatureStore(FIXTURE, shard=1, verify="when-opened") as shard:
        assert shard.rows == 5 and np.array_equal(shard.ids(), [16, 19, 22, 25, 28])


def test_a_corrupt_shard_is_named_when_its_last_row_is_read(tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(FIXTURE, copy)
    victim = copy / "shard-000000.features.npy"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2 + 64] ^= 1
    victim.write_bytes(bytes(data))
    with winnow.FeatureStore(copy) as store:
        store.read(0, 2)
        with pytest.raises(winnow.FormatError, match=f"{victim}: checksum mismatch"):
            store.read(2, 3)
    with pytest.raises(winnow.FormatError, match=f"{victim}: checksum mismatch"):
        winnow.FeatureStore(copy, verify="when-opened")
    with winnow.FeatureStore(copy, shard=0) as store:
        with pytest.raises(winnow.FormatError):
            store.finish_verification()
    with pytest.raises(winnow.InvalidArgumentError, match="shard 3 is past"):
        winnow.FeatureStore(copy, shard=3)
