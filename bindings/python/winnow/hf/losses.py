"""Per-sample losses of Hugging Face models from dict batches.

``Trainer`` reduces the loss over the whole batch; selection, plan weights
and per-sample features need one loss per sample. These helpers compute it
from the model's logits and the batch's ``labels`` with the conventions of
``transformers``: ``-100`` marks ignored positions, causal LMs predict token
``t + 1`` from position ``t`` (the shift happens here, as in the models'
own loss), classifiers have one label per sample (``num_labels == 1`` is
regression, mean squared error).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def per_sample_losses(logits: torch.Tensor, labels: torch.Tensor,
                      attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``S`` per-sample losses from a model's logits and the batch's labels.

    * Causal LM: ``logits`` ``S x T x V``, ``labels`` ``S x T``. Sample
      ``s``'s loss is the mean next-token cross-entropy over its positions
      whose (shifted) label is not ``-100``; a sample with no such position
      has loss 0 (and so no gradient). Padding on either side is ignored as
      long as its labels are ``-100``; with ``attention_mask`` (``S x T``)
      a token predicted *from* a padding position is ignored too (with
      left padding the first real token would otherwise be predicted from
      the last pad, a target the unpadded text does not have).
    * Classifier: ``logits`` ``S x C`` and ``labels`` ``S`` (class indices;
      cross-entropy, ``-100`` gives loss 0), or ``S x 1`` with float labels
      (regression: squared error).

    - Complexity: one log-softmax over the logits, ``O(S T V)``.
    """
    if logits.dim() == 3:
        if labels.shape != logits.shape[:2]:
            raise ValueError(f"labels of shape {tuple(labels.shape)} for logits of shape "
                             f"{tuple(logits.shape)}; expected {tuple(logits.shape[:2])}")
        shifted = logits[:, :-1].float()
        target = labels[:, 1:].to(logits.device)
        if attention_mask is not None:
            source = attention_mask[:, :-1].to(logits.device) == 0
            target = target.masked_fill(source, IGNORE_INDEX)
        nll = F.cross_entropy(shifted.transpose(1, 2), target, ignore_index=IGNORE_INDEX,
                              reduction="none")                      # S x (T-1)
        counts = (target != IGNORE_INDEX).sum(1)
        return nll.sum(1) / counts.clamp(min=1)
    if logits.dim() == 2:
        labels = labels.to(logits.device).reshape(-1)
        if labels.numel() != logits.shape[0]:
            raise ValueError(f"{labels.numel()} labels for {logits.shape[0]} samples")
        if logits.shape[1] == 1 and labels.is_floating_point():
            return (logits[:, 0].float() - labels.float()) ** 2
        return F.cross_entropy(logits.float(), labels.long(), ignore_index=IGNORE_INDEX,
                               reduction="none")
    raise ValueError(f"logits of shape {tuple(logits.shape)}: expected S x T x V (causal LM) "
                     "or S x C (classifier)")


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor | None:
    """Position ids that skip left padding (``cumsum(mask) - 1``), or ``None``
    when no row is left-padded (the model's default positions are then
    right). Without them a left-padded text would be read at shifted
    positions, and its loss would differ from the unpadded text's."""
    mask = attention_mask.long()
    if mask.dim() != 2 or bool((mask[:, 0] == 1).all()):
        return None
    return (mask.cumsum(1) - 1).clamp(min=0)


def model_inputs(model, batch: dict) -> dict:
    """The batch without ``labels``, plus left-padding-aware ``position_ids``
    for models whose ``forward`` takes them (when the batch has none)."""
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    mask = inputs.get("attention_mask")
    if mask is not None and "position_ids" not in inputs and _takes(model, "position_ids"):
        positions = position_ids(mask)
        if positions is not None:
            inputs["position_ids"] = positions
    return inputs


def sample_losses(model, batch: dict) -> torch.Tensor:
    """Runs ``model`` on a dict ``batch`` (``input_ids``, ``attention_mask``,
    ``labels``, ...) and returns its ``S`` per-sample losses
    (``per_sample_losses``); ``labels`` is required."""
    if "labels" not in batch:
        raise KeyError("the batch has no 'labels': per-sample losses need them")
    outputs = model(**model_inputs(model, batch))
    logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
    return per_sample_losses(logits, batch["labels"], batch.get("attention_mask"))


def _takes(model, name: str) -> bool:
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    base = getattr(base, "module", base)  # DDP
    try:
        return name in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False
