"""Smoke test of the Trainer example: the LM task at tiny sizes, one seed,
every strategy trains and is evaluated, and the report is written."""

import json
import os
import sys

import pytest

pytest.importorskip("transformers", reason="transformers is not installed (make test-hf)")
pytest.importorskip("peft", reason="peft is not installed (make test-hf)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def test_lm_smoke_runs_every_strategy_and_writes_the_report(tmp_path):
    out = run.main(["--smoke", "--seeds", "1", "--tasks", "lm", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "results.json").read_text())
    losses = {r["strategy"]: r["value"] for r in result["records"] if r["metric"] == "test loss"}
    assert set(losses) == {"winnow", "random", "full", "full@compute"}
    steps = {r["strategy"]: r["value"] for r in result["records"] if r["metric"] == "steps"}
    # Equal compute: the capped full-pool run trains exactly the 5 % runs' steps.
    assert steps["full@compute"] == steps["winnow"] == steps["random"] < steps["full"]
    assert "| winnow |" in (tmp_path / "table.md").read_text()
    assert os.path.exists(os.path.join(out, "lm.png"))
