"""A small causal byte-level transformer (defined here; no downloaded weights)
and its per-sample loss, for the PyTorch fine-tuning example.

Input: ``S x (1 + L)`` byte ids with ``BOS`` first and a real-token mask
(right padding). Every block's attention and MLP projections and the output
head are ``nn.Linear`` layers, which ``winnow.torch.FactoredFeatures`` hooks.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BOS = 256
VOCAB = 257  # 256 bytes + BOS (BOS is never predicted)


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.up = nn.Linear(d, 4 * d)
        self.down = nn.Linear(4 * d, d)

    def forward(self, h, allowed):
        s, t, d = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(s, t, 3, self.heads, d // self.heads) \
            .permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        h = h + self.proj(a.transpose(1, 2).reshape(s, t, d))
        return h + self.down(F.gelu(self.up(self.norm2(h))))


class ByteTransformer(nn.Module):
    """``layers`` pre-norm blocks of width ``d`` over bytes; ``max_len`` positions."""

    def __init__(self, d: int = 64, layers: int = 2, heads: int = 4, max_len: int = 128):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d)
        self.position = nn.Parameter(torch.randn(max_len, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 256)

    def forward(self, x, mask):
        t = x.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        # Real query rows see real keys up to themselves; BOS is always real,
        # so no row is empty. Padded positions are never read by real ones.
        allowed = (causal & mask[:, None, :])[:, None]
        h = self.embed(x) + self.position[:t]
        for block in self.blocks:
            h = block(h, allowed)
        return self.head(self.norm(h))


def token_nll(model, x, mask):
    """``S x L`` next-byte NLL (nats) and the ``S x L`` mask of real targets."""
    logits = model(x, mask)[:, :-1]
    nll = F.cross_entropy(logits.reshape(-1, 256), x[:, 1:].clamp(max=255).reshape(-1),
                          reduction="none").view(x.shape[0], -1)
    real = mask[:, 1:].float()
    return nll * real, real


def sample_losses(model, x, mask):
    """Per-sample mean NLL over each text's real bytes (``S`` values)."""
    nll, real = token_nll(model, x, mask)
    return nll.sum(1) / real.sum(1).clamp(min=1)


def batch_tensors(bytes_matrix: np.ndarray, lengths: np.ndarray, device="cpu"):
    """``(x, mask)`` from ``N x L`` uint8 bytes and lengths: BOS prepended,
    right-padded with byte 0, mask True at BOS and real bytes."""
    n, width = bytes_matrix.shape
    x = torch.full((n, width + 1), BOS, dtype=torch.long)
    x[:, 1:] = torch.from_numpy(bytes_matrix.astype(np.int64))
    mask = torch.arange(width + 1)[None, :] <= torch.from_numpy(lengths.astype(np.int64))[:, None]
    x[:, 1:][~mask[:, 1:]] = 0
    return x.to(device), mask.to(device)


@torch.no_grad()
def bits_per_byte(model, x, mask, batch: int = 256) -> float:
    """Held-out bits per byte: total NLL over every real byte, in bits."""
    model.eval()
    total, count = 0.0, 0.0
    for i in range(0, x.shape[0], batch):
        nll, real = token_nll(model, x[i:i + batch], mask[i:i + batch])
        total += float(nll.sum())
        count += float(real.sum())
    model.train()
    return total / count / math.log(2)
