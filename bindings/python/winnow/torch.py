"""PyTorch integration: per-sample gradient features from hooks in one
batched backward, and a sampler that trains on the engine's plan.

PyTorch is optional: ``import winnow`` never imports it, and importing
``winnow.torch`` without it raises ``ImportError`` saying so.

Features (DESIGN 2.7)::

    from winnow.torch import FactoredFeatures, PlanSampler, plan_loader
    fx = FactoredFeatures(model, k_in=16, k_out=16, seed=0)   # a PeftModel: its adapters
    engine = winnow.Engine(pool_ids, domains, feature_dim=fx.feature_dim)
    engine.begin_epoch(0)
    fx.add_target(engine, 0, per_sample_losses, val_x, val_mask, mask=val_mask)
    for ids, x, mask in pool_batches:
        fx.add_candidates(engine, ids, per_sample_losses, x, mask, mask=mask)
    plan = engine.end_epoch()

``FactoredFeatures`` hooks the chosen layers (``nn.Linear``, transformers'
``Conv1D``, peft LoRA adapters, optionally ``nn.Embedding``; by default every
layer with a trainable weight), runs the loss function once, and
differentiates the *sum* of the per-sample losses once: each sample's rows
of every layer's output gradient are its own. The projection runs on the
model's device as the backward pass reaches each layer (``A P_in`` in the
forward hook, ``(D P_out)^T (A P_in)`` in a tap on the output), with
libwinnow's matrices, so only ``S x feature_dim`` features reach the host;
``capture`` returns the factors on the CPU instead.

Why the factored path uses plain gradients. LESS's training features
(DESIGN 2.2) are ``Gamma = m' / sqrt(v' + eps)`` with
``m' = b1 m + (1 - b1) G`` and ``v' = b2 v + (1 - b2) G**2``: an
elementwise function of the whole ``d_out x d_in`` gradient ``G = D^T A``.
The square, the square root and the division do not commute with the
projections, so ``P_out^T Gamma P_in`` cannot be computed from ``D P_out``
and ``A P_in``; it needs ``G``. ``FactoredFeatures.adam_features`` offers
the exact transform by materializing each sample's ``G`` (still from the
one batched backward; ``4 S d_out d_in`` bytes per layer), projected with the
same matrices, for models whose layers fit; no approximation is offered.
The factored features are plain-gradient features, which is what LESS uses
for its targets, and which LESS's ablation finds somewhat weaker than Adam
features for training samples.

Sampling (DESIGN 2.4-2.6)::

    sampler = PlanSampler(dataset_ids, domains=dataset_domains, seed=0)
    loader = plan_loader(dataset, sampler, batch_size=32)
    for epoch in range(epochs):
        sampler.set_plan(plan)                 # the engine's latest plan
        loader.set_epoch(epoch)
        for data, weights, indices in loader:  # weights: the plan's, per sample
            loss = (weights * per_sample_losses(data)).mean()
"""

from __future__ import annotations

try:
    import torch  # noqa: F401  (absolute import: PyTorch, not this module)
except ImportError as error:  # pragma: no cover - exercised without torch
    raise ImportError(
        "winnow.torch needs PyTorch, which is not installed (pip install torch, or "
        "`make torch-venv` for the pinned version); the rest of winnow does not need it"
    ) from error

from ._torch_device import LayerPlan
from ._torch_features import Capture, FactoredFeatures, layer_id
from ._torch_layers import Layer
from ._torch_sampler import PlanLoader, PlanSampler, WeightedBatch, plan_loader

__all__ = ["Capture", "FactoredFeatures", "Layer", "LayerPlan", "layer_id", "PlanLoader", "PlanSampler",
           "WeightedBatch", "plan_loader"]
