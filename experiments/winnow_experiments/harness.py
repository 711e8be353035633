"""The grid runner: records, timing, and where results go.

Every experiment produces records ``{"strategy", "fraction", "seed",
"metric", "value"}``; ``Run.finish`` writes them to
``experiments/results/<experiment>/<run>/results.json`` together with the
tables and plots of ``report``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field

from . import report

RESULTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results")


@dataclass
class Config:
    """What every experiment accepts from the command line."""

    quick: bool = False
    seeds: int = 3
    target: str | None = None
    out: str | None = None  # results folder; default results/<exp>/<quick|full>[-target]
    verbose: bool = True


@dataclass
class Run:
    """One run of one experiment: its records, its settings, its clock."""

    experiment: str
    config: Config
    settings: dict = field(default_factory=dict)
    records: list = field(default_factory=list)
    started: float = field(default_factory=time.time)

    @property
    def name(self) -> str:
        base = "quick" if self.config.quick else "full"
        return base if self.config.target is None else f"{base}-{self.config.target.replace('/', '_')}"

    @property
    def folder(self) -> str:
        return self.config.out or os.path.join(RESULTS, self.experiment, self.name)

    def add(self, strategy: str, fraction: float, seed: int, metric: str, value: float) -> None:
        self.records.append({"strategy": strategy, "fraction": float(fraction),
                             "seed": int(seed), "metric": metric, "value": float(value)})

    def log(self, msg: str) -> None:
        if self.config.verbose:
            print(f"[{self.experiment} {time.time() - self.started:6.1f}s] {msg}", flush=True)

    def finish(self, primary: str, lower_is_better: bool, reference: str = "random",
               extra_plots=()) -> str:
        """Writes results.json, meta.json, table.csv, table.md and the plots;
        returns the markdown table."""
        os.makedirs(self.folder, exist_ok=True)
        with open(os.path.join(self.folder, "results.json"), "w") as f:
            json.dump(self.records, f, indent=1)
        meta = dict(self.settings, experiment=self.experiment, run=self.name,
                    seconds=round(time.time() - self.started, 1),
                    seeds=self.config.seeds, quick=self.config.quick,
                    machine=f"{platform.machine()} {os.cpu_count()} cores",
                    winnow_version=self.settings.get("winnow_version"))
        with open(os.path.join(self.folder, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        rows = report.summarize(self.records)
        report.write_csv(rows, os.path.join(self.folder, "table.csv"))
        md = report.markdown(rows, primary, lower_is_better, reference)
        header = (f"{self.experiment} ({self.name}): {self.config.seeds} seeds, "
                  f"mean ± 95 % CI (t), {meta['seconds']} s\n\n")
        with open(os.path.join(self.folder, "table.md"), "w") as f:
            f.write(header + md + "\n")
        report.plot(rows, primary, lower_is_better,
                    os.path.join(self.folder, f"{self.experiment}_{primary}.png"),
                    title=f"{self.experiment} ({self.name})")
        for metric, lib in extra_plots:
            report.plot(rows, metric, lib, os.path.join(self.folder, f"{self.experiment}_{metric}.png"),
                        title=f"{self.experiment} ({self.name})")
        self.log(f"wrote {self.folder}")
        return header + md
