"""Gradient-feature extraction on a small LoRA Llama: winnow.torch's hooks and
one batched backward against LESS's way, side by side in one run.

Figures (samples/s, and each method's ratio to LESS's way):
* ``winnow.device``: ``FactoredFeatures.features``: hooks, one batched backward,
  the factored first stage on the model's device (here the CPU), features to the host;
* ``winnow.capture+project``: the same hooks, factors copied to the host, projected
  by libwinnow (the path before the device first stage);
* ``less[<projector>]``: LESS's ``collect_grads``: one forward and backward per example, the
  LoRA gradients flattened, and every 16 examples one dense projection of the
  stacked gradients to the same number of features, by TRAK's
  ``BasicProjector`` (LESS's tool without CUDA; it regenerates its matrix on
  every call) when installed, and by Winnow's dense ``Projector`` (panels of
  the counter-based matrix, generated in C).

The model: Llama from a config (no download), 4 layers, d = 256 (``--hidden``),
LoRA r = 16 on q, k, v, o (32 adapter layers, 131 072 parameters at d = 256); batch 16 of 128 tokens;
k_in = k_out = 16 per adapter layer, so 8192 features: LESS's default dimension.

Times are the process's CPU time (best of ``--repeats``): with one thread it is
the wall time of an idle machine, and it stays meaningful on a shared, loaded
one (the wall times are reported too).

Usage: ``python Benchmarks/torch_extraction.py [--device cpu|cuda] [--threads 1]
[--output FILE]`` (``make bench-torch``; ``make gpu-torch`` on CUDA).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import peft
import torch
import transformers

import winnow
from winnow.torch import FactoredFeatures

BATCH, TOKENS, VOCAB = 16, 128, 512


def model_on(device, hidden=256):
    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=hidden, intermediate_size=hidden * 43 // 16,
        num_hidden_layers=4,
        num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=TOKENS,
        attn_implementation="eager")
    torch.manual_seed(0)
    base = transformers.LlamaForCausalLM(config)
    lora = peft.LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj",
                                                                 "o_proj"],
                           lora_dropout=0.0, init_lora_weights=False)
    return peft.get_peft_model(base, lora).to(device).eval()


def losses(model, ids, mask):
    """Per-sample mean next-token loss (LESS's per-example loss)."""
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
    real = (mask[:, 1:] * mask[:, :-1]).float()
    return (nll * real).sum(1) / real.sum(1)


def dense_projectors(dim, k, device):
    """``(name, project)`` for TRAK's BasicProjector when installed and for
    Winnow's dense Projector: LESS's projection both ways."""
    found = []
    try:
        from trak.projectors import BasicProjector, ProjectionType
        p = BasicProjector(grad_dim=dim, proj_dim=k, seed=0,
                           proj_type=ProjectionType.rademacher, device=device)
        found.append(("trak.BasicProjector", lambda g: p.project(g, model_id=0)))
    except ImportError:
        pass
    q = winnow.Projector(dim, k, seed=0)
    found.append(("winnow.Projector", lambda g: q.project(g.float().cpu().numpy())))
    return found


def less_way(model, ids, mask, project):
    params = [p for p in model.parameters() if p.requires_grad]
    grads = []
    for s in range(ids.shape[0]):
        model.zero_grad(set_to_none=True)
        losses(model, ids[s:s + 1], mask[s:s + 1])[0].backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in params]))
    return project(torch.stack(grads))


def best(fn, repeats, sync):
    """The least process CPU time and the least wall time of ``repeats`` runs."""
    cpu, wall = [], []
    for _ in range(repeats):
        sync()
        start = time.process_time(), time.perf_counter()
        fn()
        sync()
        cpu.append(time.process_time() - start[0])
        wall.append(time.perf_counter() - start[1])
    return min(cpu), min(wall)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=256,
                    help="the model width d (the LoRA parameters and features scale with d "
                         "and the model's flops with d^2, so the ratio to LESS's way grows "
                         "as d shrinks)")
    ap.add_argument("--output", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    winnow.set_blas_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model = model_on(device, args.hidden)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, VOCAB, (BATCH, TOKENS), generator=g).to(device)
    mask = torch.ones(BATCH, TOKENS, dtype=torch.long, device=device)
    fx = FactoredFeatures(model, k_in=16, k_out=16)
    dim = sum(p.numel() for p in model.parameters() if p.requires_grad)
    projectors = dense_projectors(dim, fx.feature_dim, args.device)
    fx.features(losses, model, ids, mask)  # warm-up: matrices fetched, kernels loaded
    methods = {
        "winnow.device": lambda: fx.features(losses, model, ids, mask),
        "winnow.capture+project": lambda: fx.project(fx.capture(losses, model, ids, mask)),
    }
    less_way(model, ids[:2], mask[:2], lambda g: g)
    for name, project in projectors:
        methods[f"less[{name}]"] = lambda project=project: less_way(model, ids, mask, project)
    # CUDA work runs outside the process's CPU time: there, wall time is the measure.
    rates, wall = {}, {}
    for m, f in methods.items():
        cpu_s, wall_s = best(f, args.repeats, sync)
        rates[m] = BATCH / (wall_s if device.type == "cuda" else cpu_s)
        wall[m] = BATCH / wall_s
    result = {
        "figures": {m: round(r, 2) for m, r in rates.items()},
        "clock": "wall" if device.type == "cuda" else "process CPU time",
        "wall_samples_per_s": {m: round(r, 2) for m, r in wall.items()},
        "ratio_to_less": {less: {m: round(r / rates[less], 2) for m, r in rates.items()
                                 if not m.startswith("less")}
                          for less in rates if less.startswith("less")},
        "setup": {"device": str(device), "threads": args.threads, "batch": BATCH,
                  "hidden": args.hidden,
                  "tokens": TOKENS, "adapter_parameters": dim, "features": fx.feature_dim,
                  "layers": len(fx.layers), "paths": sorted(set(fx.paths.values())),
                  "torch": torch.__version__,
                  "transformers": transformers.__version__, "peft": peft.__version__,
                  "openblas_core": winnow.blas_core_name(), "cpu": platform.processor()
                  or platform.machine()},
    }
    print(json.dumps(result, indent=2))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    for m, r in rates.items():
        print(f"{m:32s} {r:9.1f} samples/s")


if __name__ == "__main__":
    main()
