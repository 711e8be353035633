"""The kronfluence side of the K-FAC / EK-FAC check (issue #16, DESIGN 2.9).

Builds two small seeded models on synthetic data (CPU, float32), trains
them briefly, and gives, for the same data:

* kronfluence 1.0.1's pairwise influence scores (query x train) for the
  ``"kfac"`` and ``"ekfac"`` strategies (``run_kronfluence``);
* the per-sample factors Winnow takes (``capture``): per tracked
  ``nn.Linear``, ``A`` (``sum(T) x d_in``, the module's per-token inputs, with
  a column of ones appended when the module has a bias, as kronfluence does)
  and ``D`` (``sum(T) x d_out``, the gradient of the sample's own loss with
  respect to the module's output), plus ``token_counts``;
* an exact float64 NumPy computation of the same influence from those
  factors (``numpy_scores``), the arbiter when the two sides disagree.

What makes the two sides see the same thing (read from kronfluence 1.0.1's
source):

* The fit set's gradients: the task's ``compute_train_loss`` ignores
  ``sample`` and uses the true labels (and ``use_empirical_fisher=True``), and
  every loss is a *sum* over samples (and over tokens) so that the gradient
  of the batch loss with respect to a sample's outputs is that sample's own
  per-sample gradient. ``compute_measurement`` is the same loss, so the query
  gradients are loss gradients too.
* Covariances: ``C = sum_t a a^T / tokens``, ``S = sum_t d d^T / tokens``
  (tokens counted through the attention mask), eigendecomposed in float64.
* ``"kfac"``: ``Lambda = e_S (x) e_C``; ``"ekfac"``: ``Lambda = sum_s
  (Q_S^T G_s Q_C)^2 / samples`` with ``G_s = sum_t d_t a_t^T`` summed over the
  sample's tokens. Damping ``damping_factor=None`` is the heuristic
  ``0.1 * mean(Lambda)`` (per module), added to ``Lambda``.
* Score: ``sum_modules <Q_S ((Q_S^T G_q Q_C) / (Lambda + l)) Q_C^T, G_t>``.
* The transformer pads on the right with a causal mask; kronfluence zeroes
  padded activations through ``get_attention_mask`` and does not count them;
  padded positions get exactly zero output gradients (the loss masks them and
  no real position attends to them), so dropping their rows (``capture``) is
  the same computation.

Nothing here imports winnow.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

#: The kronfluence version the facts above were read from.
KRONFLUENCE_VERSION = "1.0.1"


# ---------------------------------------------------------------- models ---

class MLP(nn.Module):
    """``d_in -> hidden -> hidden -> classes``, tanh, no biases."""

    def __init__(self, d_in=16, hidden=32, classes=4):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden, bias=False)
        self.fc2 = nn.Linear(hidden, hidden, bias=False)
        self.fc3 = nn.Linear(hidden, classes, bias=False)

    def forward(self, x):
        return self.fc3(torch.tanh(self.fc2(torch.tanh(self.fc1(x)))))


class Block(nn.Module):
    """Pre-LN causal self-attention (q, k, v, o without bias) and an MLP
    (``up``, ``down`` with bias); every weight matrix is an ``nn.Linear``."""

    def __init__(self, d, heads, hidden):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, d, bias=False)
        self.v = nn.Linear(d, d, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.up = nn.Linear(d, hidden)
        self.down = nn.Linear(hidden, d)

    def forward(self, h, allowed):
        b, t, d = h.shape
        x = self.ln1(h)

        def split(y):
            return y.view(b, t, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
        h = h + self.o((weights @ v).transpose(1, 2).reshape(b, t, d))
        return h + self.down(F.gelu(self.up(self.ln2(h))))


class TinyTransformer(nn.Module):
    """Two causal blocks and an LM head over a small vocabulary."""

    def __init__(self, vocab=16, d=32, heads=2, hidden=64, blocks=2, max_len=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.position = nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(Block(d, heads, hidden) for _ in range(blocks))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, x, mask):
        t = x.shape[1]
        h = self.embed(x) + self.position(torch.arange(t))
        # Causal, and no real position looks at padding (right padding: a
        # query position always sees key 0, so no row is all -inf).
        allowed = torch.ones(t, t, dtype=torch.bool).tril() & mask.bool()[:, None, None, :]
        for block in self.blocks:
            h = block(h, allowed)
        return self.head(self.ln(h))


# ---------------------------------------------------------------- losses ---

def mlp_loss(model, batch):
    """Sum of the per-sample cross-entropies."""
    x, y = batch
    return F.cross_entropy(model(x), y, reduction="sum")


def lm_loss(model, batch):
    """Sum over samples and real target tokens of the next-token loss."""
    x, mask = batch
    logits = model(x, mask)[:, :-1]
    nll = F.cross_entropy(logits.transpose(1, 2), x[:, 1:], reduction="none")
    return (nll * mask[:, 1:].to(nll.dtype)).sum()


# ---------------------------------------------------------------- config ---

@dataclass
class PeerConfig:
    """One model and its data. ``kind`` is ``"mlp"`` or ``"transformer"``."""
    kind: str = "mlp"
    seed: int = 0
    n_train: int = 256          # the fit set and the scored train set
    n_query: int = 32
    train_steps: int = 150
    lr: float = 3e-3
    # MLP
    d_in: int = 16
    hidden: int = 32
    classes: int = 4
    # transformer
    vocab: int = 16
    d_model: int = 32
    heads: int = 2
    mlp_hidden: int = 64
    blocks: int = 2
    max_len: int = 12
    min_len: int = 5
    extra: dict = field(default_factory=dict)


@dataclass
class Peer:
    config: PeerConfig
    model: nn.Module
    loss: callable                 # loss(model, batch) -> summed loss
    train: TensorDataset           # also the fit set
    query: TensorDataset
    module_names: list             # tracked nn.Linear modules, in Winnow layer order
    train_loss: list               # the loss at each training step

    @property
    def fit(self) -> TensorDataset:
        return self.train

    def modules(self):
        named = dict(self.model.named_modules())
        return [named[name] for name in self.module_names]

    def layers(self):
        """``(layer_id, d_in, d_out)`` per tracked module (``d_in`` counts the
        bias column)."""
        return [(i, m.in_features + (m.bias is not None), m.out_features)
                for i, m in enumerate(self.modules())]


def _mlp_data(config, generator):
    n = config.n_train + config.n_query
    x = torch.randn(n, config.d_in, generator=generator)
    teacher = torch.randn(config.d_in, config.classes, generator=generator)
    logits = torch.tanh(x @ teacher) * 3 + 0.5 * torch.randn(n, config.classes, generator=generator)
    y = logits.argmax(-1)
    # A tenth of the training labels flipped, so that some train points are
    # harmful and the scores have both signs.
    flip = torch.rand(n, generator=generator) < 0.1
    y = torch.where(flip, torch.randint(0, config.classes, (n,), generator=generator), y)
    return (x, y)


def _lm_data(config, generator):
    n = config.n_train + config.n_query
    # A sparse random Markov chain: each token has 3 likely successors.
    transition = torch.full((config.vocab, config.vocab), 0.02)
    for token in range(config.vocab):
        successors = torch.randperm(config.vocab, generator=generator)[:3]
        transition[token, successors] += torch.tensor([3.0, 1.5, 0.75])
    transition /= transition.sum(-1, keepdim=True)
    x = torch.zeros(n, config.max_len, dtype=torch.long)
    x[:, 0] = torch.randint(0, config.vocab, (n,), generator=generator)
    for t in range(1, config.max_len):
        x[:, t] = torch.multinomial(transition[x[:, t - 1]], 1, generator=generator)[:, 0]
    lengths = torch.randint(config.min_len, config.max_len + 1, (n,), generator=generator)
    # int64: kronfluence adds the mask's sum to an int64 token count
    mask = (torch.arange(config.max_len)[None, :] < lengths[:, None]).long()
    x = x * mask  # padding token 0 (masked out everywhere)
    return (x, mask)


def build(config: PeerConfig) -> Peer:
    """The seeded model, its data and ``config.train_steps`` of full-batch Adam."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    if config.kind == "mlp":
        model = MLP(config.d_in, config.hidden, config.classes)
        data, loss = _mlp_data(config, generator), mlp_loss
        names = ["fc1", "fc2", "fc3"]
    elif config.kind == "transformer":
        model = TinyTransformer(config.vocab, config.d_model, config.heads, config.mlp_hidden,
                                config.blocks, config.max_len)
        data, loss = _lm_data(config, generator), lm_loss
        names = [f"blocks.{b}.{m}" for b in range(config.blocks)
                 for m in ("q", "k", "v", "o", "up", "down")] + ["head"]
    else:
        raise ValueError(f"unknown kind {config.kind!r}")
    n = config.n_train
    train = TensorDataset(*(t[:n] for t in data))
    query = TensorDataset(*(t[n:] for t in data))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    tokens = float(train.tensors[1][:, 1:].sum()) if config.kind == "transformer" else n
    losses = []
    for _ in range(config.train_steps):
        optimizer.zero_grad()
        value = loss(model, train.tensors) / tokens
        value.backward()
        optimizer.step()
        losses.append(value.item())
    model.eval()
    assert names == [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    return Peer(config, model, loss, train, query, names, losses)


# --------------------------------------------------------------- capture ---

def capture(peer: Peer, dataset: TensorDataset):
    """Per-sample factors of ``dataset`` on the tracked modules.

    Returns ``(token_counts, [(A, D), ...])`` in ``peer.module_names`` order,
    float32, the rows of sample ``s`` after those of samples ``0 .. s-1``
    (padding dropped); and ``grads``, the summed weight gradients autograd
    computed in the same pass (``d_out x d_in`` with the bias as the last
    column), to check ``sum_s D_s^T A_s`` against.
    """
    model = peer.model
    modules = peer.modules()
    seen = {}
    hooks = []

    def forward_hook(module, inputs, output):
        entry = seen.setdefault(module, {})
        entry["a"] = inputs[0].detach()
        output.register_hook(lambda g: entry.__setitem__("d", g.detach()))

    for m in modules:
        hooks.append(m.register_forward_hook(forward_hook))
    try:
        model.zero_grad(set_to_none=True)
        peer.loss(model, dataset.tensors).backward()
    finally:
        for h in hooks:
            h.remove()
    batch = dataset.tensors
    if peer.config.kind == "transformer":
        real = batch[1].bool()
        counts = real.sum(1).numpy().astype(np.int64)
    else:
        real = None
        counts = np.ones(len(dataset), dtype=np.int64)
    factors, grads = [], []
    for m in modules:
        a, d = seen[m]["a"], seen[m]["d"]
        if real is not None:
            a, d = a[real], d[real]  # row-major over (sample, token): sample order kept
        if m.bias is not None:
            a = torch.cat([a, torch.ones(a.shape[0], 1)], 1)
        factors.append((np.ascontiguousarray(a.numpy(), dtype=np.float32),
                        np.ascontiguousarray(d.numpy(), dtype=np.float32)))
        g = m.weight.grad.detach()
        if m.bias is not None:
            g = torch.cat([g, m.bias.grad.detach()[:, None]], 1)
        grads.append(g.numpy().astype(np.float64))
    model.zero_grad(set_to_none=True)
    return counts, factors, grads


# ----------------------------------------------------------- kronfluence ---

def _task(peer: Peer):
    from kronfluence.task import Task

    loss = peer.loss
    is_lm = peer.config.kind == "transformer"
    names = list(peer.module_names)

    class PeerTask(Task):
        def compute_train_loss(self, batch, model, sample=False):
            del sample  # empirical Fisher: always the true labels
            return loss(model, batch)

        def compute_measurement(self, batch, model):
            return loss(model, batch)

        def get_influence_tracked_modules(self):
            return names

        def get_attention_mask(self, batch):
            return batch[1] if is_lm else None

    return PeerTask()


def run_kronfluence(peer: Peer, strategy: str, dampings=(None,), output_dir=None,
                    threads=None):
    """kronfluence's pairwise scores (``n_query x n_train`` float64 arrays).

    Fits ``strategy`` (``"kfac"`` or ``"ekfac"``) on ``peer.fit`` with the
    empirical Fisher, then scores once per entry of ``dampings``
    (``None``: kronfluence's heuristic ``0.1 * mean(Lambda)``; a number: that
    absolute damping). Returns ``(scores, times)`` where ``scores`` maps each
    damping to its array and ``times`` holds ``fit_s`` and ``score_s`` (the
    first scoring's wall seconds; ``fit_cpu_s``, ``score_cpu_s``: this
    process's CPU seconds). Outputs go to ``output_dir`` or a temporary
    folder that is removed.
    """
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments

    if threads:
        torch.set_num_threads(threads)
    task = _task(peer)
    model = prepare_model(copy.deepcopy(peer.model), task)
    holder = tempfile.TemporaryDirectory(prefix="kronfluence_") if output_dir is None else None
    root = holder.name if holder else output_dir
    logging.getLogger("kronfluence").setLevel(logging.WARNING)
    try:
        analyzer = Analyzer(analysis_name=f"{peer.config.kind}_{strategy}", model=model,
                            task=task, cpu=True, disable_tqdm=True, output_dir=root,
                            log_level=logging.WARNING)
        factor_args = FactorArguments(strategy=strategy, use_empirical_fisher=True,
                                      covariance_max_examples=None, lambda_max_examples=None)
        start, cpu = time.perf_counter(), time.process_time()
        analyzer.fit_all_factors(factors_name=strategy, dataset=peer.fit,
                                 per_device_batch_size=len(peer.fit), factor_args=factor_args,
                                 overwrite_output_dir=True)
        times = {"fit_s": time.perf_counter() - start, "fit_cpu_s": time.process_time() - cpu}
        scores = {}
        for i, damping in enumerate(dampings):
            start, cpu = time.perf_counter(), time.process_time()
            name = f"{strategy}_{i}"
            analyzer.compute_pairwise_scores(
                scores_name=name, factors_name=strategy, query_dataset=peer.query,
                train_dataset=peer.train, per_device_query_batch_size=len(peer.query),
                per_device_train_batch_size=len(peer.train),
                score_args=ScoreArguments(damping_factor=damping), overwrite_output_dir=True)
            if i == 0:
                times["score_s"] = time.perf_counter() - start
                times["score_cpu_s"] = time.process_time() - cpu
            scores[damping] = analyzer.load_pairwise_scores(name)["all_modules"] \
                .double().numpy()
        return scores, times
    finally:
        if holder:
            holder.cleanup()


# ------------------------------------------------------ NumPy reference ---

def per_sample_gradients(token_counts, a, d):
    """``S x d_out x d_in`` float64 ``G_s = D_s^T A_s``."""
    a, d = np.asarray(a, np.float64), np.asarray(d, np.float64)
    ends = np.cumsum(token_counts)
    starts = ends - np.asarray(token_counts)
    return np.stack([d[s:e].T @ a[s:e] for s, e in zip(starts, ends)])


def numpy_scores(fit, train, query, method="kfac", damping=0.1, absolute=False):
    """The exact influence ``g_q^T (H + l)^-1 g_t`` summed over layers, float64.

    ``fit``, ``train``, ``query``: ``(token_counts, [(A, D), ...])``.
    ``method``: ``"kfac"`` (``Lambda = e_S (x) e_C``, damping
    ``l = damping * mean(Lambda)``: kronfluence's rule), ``"ekfac"``
    (``Lambda`` fitted per entry) or ``"factored"`` (``(S + l_S I) (x)
    (C + l_C I)`` with ``l_X = damping * mean(e_X)``: Winnow's ``whiten``).
    ``absolute``: the damping is the value itself.
    """
    fit_counts, fit_factors = fit
    total = np.zeros((len(query[0]), len(train[0])))
    for layer, (a, d) in enumerate(fit_factors):
        a64, d64 = np.asarray(a, np.float64), np.asarray(d, np.float64)
        rows = a64.shape[0]
        e_c, q_c = np.linalg.eigh(a64.T @ a64 / rows)
        e_s, q_s = np.linalg.eigh(d64.T @ d64 / rows)
        if method == "factored":
            l_c = damping if absolute else damping * e_c.mean()
            l_s = damping if absolute else damping * e_s.mean()
            inverse = 1.0 / np.outer(e_s + l_s, e_c + l_c)
        else:
            if method == "kfac":
                lam = np.outer(e_s, e_c)
            elif method == "ekfac":
                g = per_sample_gradients(fit_counts, a64, d64)
                lam = np.mean((q_s.T @ g @ q_c) ** 2, axis=0)
            else:
                raise ValueError(f"unknown method {method!r}")
            inverse = 1.0 / (lam + (damping if absolute else damping * lam.mean()))
        rotated = []
        for counts, factors in (query, train):
            g = per_sample_gradients(counts, *factors[layer])
            rotated.append((q_s.T @ g @ q_c).reshape(len(counts), -1))
        total += (rotated[0] * inverse.reshape(1, -1)) @ rotated[1].T
    return total


# --------------------------------------------------------------- metrics ---

def pearson(x, y) -> float:
    x, y = np.ravel(x).astype(np.float64), np.ravel(y).astype(np.float64)
    x, y = x - x.mean(), y - y.mean()
    return float(x @ y / math.sqrt((x @ x) * (y @ y)))


def spearman(x, y) -> float:
    def ranks(v):
        v = np.ravel(v)
        r = np.empty(v.size)
        r[np.argsort(v, kind="stable")] = np.arange(v.size)
        return r
    return pearson(ranks(x), ranks(y))


def scale(x, reference) -> float:
    """The least-squares slope of ``x`` on ``reference`` (1 when the scales agree)."""
    x, reference = np.ravel(x).astype(np.float64), np.ravel(reference).astype(np.float64)
    return float(x @ reference / (reference @ reference))


def relative_error(x, reference) -> float:
    """``max |x - reference| / max |reference|``."""
    x, reference = np.asarray(x, np.float64), np.asarray(reference, np.float64)
    return float(np.abs(x - reference).max() / np.abs(reference).max())


MLP_CONFIG = PeerConfig(kind="mlp")
TRANSFORMER_CONFIG = PeerConfig(kind="transformer", n_train=192, n_query=24, train_steps=120,
                                lr=3e-3)


if __name__ == "__main__":
    # A quick self-check of the kronfluence side: capture + NumPy vs kronfluence.
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    for config in (MLP_CONFIG, TRANSFORMER_CONFIG):
        t0 = time.perf_counter()
        peer = build(config)
        t1 = time.perf_counter()
        sets = {name: capture(peer, getattr(peer, name)) for name in ("train", "query")}
        for strategy in ("kfac", "ekfac"):
            scores, times = run_kronfluence(peer, strategy)
            ref = numpy_scores(sets["train"][:2], sets["train"][:2], sets["query"][:2], strategy)
            k = scores[None]
            print(f"{config.kind} {strategy}: build {t1 - t0:.1f}s loss {peer.train_loss[0]:.3f}"
                  f"->{peer.train_loss[-1]:.3f} kron {times} pearson {pearson(k, ref):.6f} "
                  f"rel {relative_error(k, ref):.2e} scale {scale(k, ref):.6f}")
