"""The layer types ``winnow.torch`` projects, and how it finds them.

Every supported layer is seen as a linear map ``y = W x`` with a weight
gradient ``G = D^T A`` (``d_out x d_in``) per sample:

* ``nn.Linear``: ``A`` its inputs, ``D`` its output gradients; the weight
  is ``d_out x d_in`` already.
* transformers' ``Conv1D`` (GPT-2): ``y = x W + b`` with ``W`` stored
  ``d_in x d_out``; ``G`` is the gradient of ``W^T``, the same orientation
  as an ``nn.Linear``, so ``W.grad`` is ``G^T``.
* peft LoRA: its ``lora_A`` / ``lora_B`` are ``nn.Linear`` modules and are
  found as such; on a ``PeftModel`` the default picks exactly the trainable
  adapter layers (LESS's setting).
* ``nn.Embedding`` (``embeddings=True``): ``y = W^T onehot(id)``, so
  ``d_in`` is the vocabulary, ``d_out`` the embedding width, and ``G`` is
  the gradient of ``W^T``; ``A P_in`` is a gather of rows of ``P_in``, and
  tokens at ``padding_idx`` contribute nothing (PyTorch gives that row no
  gradient).

Tied weights (GPT-2's ``lm_head`` and ``wte``, Llama with
``tie_word_embeddings``): each module is projected as its own use of the
weight. The gradient of the shared tensor is the sum of both uses'
gradients (transposed for the embedding), so its features are the sum of
the two layers' features only when both are chosen with the same matrices;
by default Winnow treats them as two layers.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass

from torch import nn

#: The names a "nothing matches" error lists as supported.
SUPPORTED = "nn.Linear, transformers Conv1D, peft LoRA (its lora_A/lora_B Linears), " \
            "nn.Embedding (with embeddings=True)"


def layer_id(name: str) -> int:
    """The stable id of a module name: the first 8 bytes of its BLAKE2b
    digest, little-endian, with the top bit cleared (``0 <= id < 2**63``).

    Ids key the random matrices of ``FactoredProjector``, so the same
    module name gets the same projection in every run and process.
    """
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def is_conv1d(module: nn.Module) -> bool:
    """transformers' ``Conv1D`` (checked by shape, so transformers need not
    be importable): a ``d_in x d_out`` weight and ``nf`` output features."""
    weight = getattr(module, "weight", None)
    return (type(module).__name__ == "Conv1D" and hasattr(module, "nf")
            and weight is not None and weight.dim() == 2)


def kind_of(module: nn.Module, embeddings: bool) -> str | None:
    """``"linear"``, ``"conv1d"``, ``"embedding"`` or ``None`` (unsupported)."""
    if isinstance(module, nn.Linear):
        return "linear"
    if is_conv1d(module):
        return "conv1d"
    if embeddings and isinstance(module, nn.Embedding):
        return "embedding"
    return None


@dataclass
class Layer:
    """One projected layer.

    Attributes:
        name: the qualified module name; ``id = layer_id(name)``.
        kind: ``"linear"``, ``"conv1d"`` or ``"embedding"``.
        bias: whether ``A`` carries a ones column for the bias.
        d_in, d_out: the dims of ``G`` (``d_in`` includes the bias column).
    """

    name: str
    module: nn.Module
    kind: str
    bias: bool
    d_in: int
    d_out: int

    @property
    def id(self) -> int:
        return layer_id(self.name)

    @property
    def weight_in(self) -> int:
        """``d_in`` without the bias column."""
        return self.d_in - int(self.bias)

    @property
    def padding_idx(self):
        return getattr(self.module, "padding_idx", None) if self.kind == "embedding" else None

    def weight_gradient(self, grad):
        """``G`` (``... x d_out x d_in`` without the bias column) from the
        weight's own ``.grad`` (``... x shape of the weight``), for checks."""
        return grad if self.kind == "linear" else grad.transpose(-1, -2)


def make_layer(name: str, module: nn.Module, kind: str, bias: bool) -> Layer:
    weight = module.weight
    has_bias = bool(bias and getattr(module, "bias", None) is not None and kind != "embedding")
    if kind == "linear":
        d_in, d_out = weight.shape[1], weight.shape[0]
    else:  # conv1d (d_in x d_out) and embedding (vocab x width) store W^T
        d_in, d_out = weight.shape[0], weight.shape[1]
    return Layer(name, module, kind, has_bias, int(d_in) + int(has_bias), int(d_out))


def _matches(layers, name: str, module: nn.Module) -> bool:
    if callable(layers):
        return bool(layers(name, module))
    patterns = [layers] if isinstance(layers, str) else list(layers)
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def find_layers(model: nn.Module, layers, embeddings: bool, bias: bool) -> list[Layer]:
    """The layers of ``model`` to project, in ``named_modules()`` order.

    ``layers=None`` picks every supported layer whose weight is trainable
    (on a ``PeftModel``: the LoRA adapters); a pattern, list or callable
    picks among all supported layers, trainable or not.
    Raises ``ValueError`` naming what was seen when nothing is chosen.
    """
    chosen, seen = [], {}
    for name, module in model.named_modules():
        kind = kind_of(module, embeddings)
        if layers is None:
            if kind and module.weight.requires_grad:
                chosen.append(make_layer(name, module, kind, bias))
            continue
        if not name or not _matches(layers, name, module):
            continue
        if kind:
            chosen.append(make_layer(name, module, kind, bias))
        elif any(True for _ in module.parameters(recurse=False)):
            seen[type(module).__name__] = seen.get(type(module).__name__, 0) + 1
    if chosen:
        return chosen
    if layers is None:
        raise ValueError(
            "no trainable layer to project: every supported layer's weight has "
            "requires_grad=False (a frozen model, or a PeftModel without adapters?). "
            "Unfreeze the layers to select on, or name them with layers=... "
            f"(supported: {SUPPORTED})")
    types = ", ".join(f"{t} ({n})" for t, n in sorted(seen.items())) or "no module with parameters"
    raise ValueError(f"no supported layer of the model matches {layers!r}; the modules it "
                     f"matches are: {types}. Supported: {SUPPORTED}")
