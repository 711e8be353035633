#!/usr/bin/env python3
"""WinnowTrainer on Debian's fortunes: Winnow's 5 % vs a random 5 % vs the
full pool, for (a) a small Llama LoRA-tuned toward a target language and
(b) all-MiniLM-L6-v2 LoRA-tuned on noisy topic labels (``tasks.py``).

    make hf-example                  # .venv-torch + pinned HF stack, libwinnow, this
    .venv-torch/bin/python experiments/hf_finetune/run.py [--smoke] [--seeds N]
        [--tasks lm,topic] [--out DIR]

Per task and seed, four runs (``common.STRATEGIES``): ``winnow`` (initial
pool scoring with LoRA-gradient features, then in-step EMA), ``random``,
``full`` (the whole pool, the same number of epochs: LESS's protocol) and
``full@compute`` (the whole pool, stopped at the 5 % runs' step count).
Writes ``results.json``, ``table.md`` and ``<task>.png`` (95 % Student-t
intervals over seeds) to ``--out`` (default ``experiments/hf_finetune/results``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(ROOT, "experiments"), os.path.join(ROOT, "bindings", "python")]

import numpy as np  # noqa: E402
import torch  # noqa: E402

import common as C  # noqa: E402
import tasks as T  # noqa: E402
from winnow_experiments import report  # noqa: E402

SIZES = {
    "full": {
        "lm": dict(target="pt", pool=800, n_val=16, n_test=120, pretrain=1200,
                   pretrain_epochs=1, max_len=48, d=64, layers=2, fraction=0.05, epochs=2,
                   batch=8, lr=3e-3),
        "topic": dict(pool=320, n_val=6, n_test=60, max_len=32, fraction=0.05, epochs=3,
                      batch=8, lr=5e-3),
    },
    "smoke": {
        "lm": dict(target="pt", pool=200, n_val=4, n_test=16, pretrain=64, pretrain_epochs=1,
                   max_len=24, d=32, layers=1, fraction=0.1, epochs=2, batch=4, lr=3e-3),
        "topic": dict(pool=80, n_val=2, n_test=8, max_len=16, fraction=0.1, epochs=2,
                      batch=4, lr=3e-3),
    },
}
LAYERS = {"lm": "*lora_B.default", "topic": ["*lora_B.default", "*modules_to_save.default"]}


def log(*a):
    print(*a, flush=True)


def run_task(task, size, seeds, scratch):
    out = []
    data = T.lm_data(size, 0) if task == "lm" else T.topic_data(size, 0)
    if task == "lm":
        base = T.pretrained_llama(size, data, os.path.join(scratch, "lm"))
        make = lambda seed: T.lm_model(base, seed)  # noqa: E731
    else:
        make = T.topic_model
    for seed in seeds:
        steps5 = None
        for name in C.STRATEGIES:
            t, seconds = C.train(
                name, make(seed), data["pool"], data["target"], T.pad_collate,
                os.path.join(scratch, f"{task}-{seed}-{name}"), fraction=size["fraction"],
                epochs=size["epochs"], batch=size["batch"], lr=size["lr"], layers=LAYERS[task],
                seed=seed, max_steps=steps5 if name == "full@compute" else -1)
            if name == "winnow":
                steps5 = t.state.max_steps
            loss, acc = C.evaluate(t.model, data["test"], T.pad_collate)
            chosen = np.concatenate([p for p, _ in t.plans.values()])
            key = "selected target share" if task == "lm" else "selected clean share"
            extra = {key: float(data["good"][chosen].mean())}
            fraction = 1.0 if name.startswith("full") else size["fraction"]
            values = {"test loss": loss, "test accuracy": acc, "train seconds": seconds,
                      "steps": float(t.state.global_step), **extra}
            out += C.records(task, name, fraction, values)
            log(f"  {task} seed {seed} {name:13s} steps {t.state.global_step:4d} "
                f"loss {loss:.4f} acc {acc} {seconds:6.1f} s {extra}")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, into a temporary folder")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per strategy (default 3)")
    ap.add_argument("--tasks", default="lm,topic", help="comma-separated: lm, topic")
    ap.add_argument("--out", default=None, help="results folder")
    a = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    sizes = SIZES["smoke" if a.smoke else "full"]
    out = a.out or (tempfile.mkdtemp(prefix="hf-smoke-") if a.smoke
                    else os.path.join(HERE, "results"))
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    records, tables = [], []
    with tempfile.TemporaryDirectory(prefix="hf-example-") as scratch:
        for task in a.tasks.split(","):
            log(f"task {task}: {sizes[task]}")
            rs = run_task(task, sizes[task], list(range(a.seeds)), scratch)
            records += rs
            rows = report.summarize(rs)
            primary = "test loss" if task == "lm" else "test accuracy"
            tables.append(f"### {task}\n\n" + report.markdown(rows, primary, task == "lm"))
            report.plot(rows, primary, task == "lm", os.path.join(out, f"{task}.png"),
                        title=f"{task}: {primary}, 95 % CI over {a.seeds} seeds")
    cmd = "make hf-example" if not a.smoke else "run.py --smoke"
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"sizes": sizes, "seeds": a.seeds, "records": records,
                   "seconds": time.perf_counter() - t0}, f, indent=1)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(f"Regenerate: `{cmd}` ({time.perf_counter() - t0:.0f} s here)\n\n"
                + "\n\n".join(tables) + "\n")
    log(open(os.path.join(out, "table.md")).read())
    return out


if __name__ == "__main__":
    main()
