"""Smoke run of the PyTorch fine-tuning example at tiny sizes (seconds):
every strategy trains and is evaluated, the throughput table is filled, and
the results files are written."""

import json
import os
import sys

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (make test-torch creates "
                    ".venv-torch with the pinned version)")
if not os.path.isdir("/usr/share/games/fortunes/cs"):
    pytest.skip("Debian fortunes packages missing (experiments/run.py installs them)",
                allow_module_level=True)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def test_smoke_run_writes_both_strategies_and_the_extraction_rates(tmp_path):
    assert run.main(["--smoke", "--threads", "1", "--cpu", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "results.json").read_text())
    strategies = {r["strategy"] for r in result["records"] if r["metric"] == "bpb"}
    assert strategies == {"random", "less", "less-adam"}
    assert all(0 < r["value"] < 12 for r in result["records"] if r["metric"] == "bpb")
    rates = result["throughput"]["samples_per_second"]
    assert len(rates) == 6 and all(v > 0 for v in rates.values())
    assert "| less |" in (tmp_path / "table.md").read_text()
