"""winnow.torch's hook features against explicit per-sample gradients.

The reference is independent of the hooks: `torch.func.vmap(grad(...))`
differentiates each sample's own loss with respect to the parameters, and
each per-sample weight gradient `G_s` (`d_out x d_in`, with the bias as an
extra column) is projected through the same `FactoredProjector` as factors
`A = G_s`, `D = I` (so `D^T A = G_s`). The hook path must give the same
features to 1e-4, with and without padding, for 3-D (`S x T x d`) and 2-D
(`S x d`) layer inputs, and for a module called twice.
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (make test-torch "
                            "creates .venv-torch with the pinned version)")

import winnow  # noqa: E402
from winnow.torch import FactoredFeatures, layer_id  # noqa: E402

from torch import nn  # noqa: E402
from torch.func import functional_call, grad, vmap  # noqa: E402

torch.set_num_threads(1)


class TinyLM(nn.Module):
    """One causal self-attention block and an MLP over a small vocabulary."""

    def __init__(self, vocab=13, d=8, hidden=12):
        super().__init__()
        self.d = d
        self.embed = nn.Embedding(vocab, d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d, bias=False)
        self.up = nn.Linear(d, hidden)
        self.down = nn.Linear(hidden, d)
        self.head = nn.Linear(d, vocab)

    def forward(self, x, mask):
        t = x.shape[-1]
        h = self.embed(x)
        q, k, v = self.qkv(h).chunk(3, -1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d)
        allowed = torch.ones(t, t, dtype=torch.bool).tril() & mask[..., None, :]
        attention = scores.masked_fill(~allowed, -1e9).softmax(-1)
        h = h + self.proj(attention @ v)
        h = h + self.down(torch.nn.functional.gelu(self.up(h)))
        return self.head(h)


def lm_losses(model, x, mask):
    """Per-sample mean next-token loss over real target positions."""
    logits = model(x, mask)[..., :-1, :]
    nll = nn.functional.cross_entropy(logits.transpose(-1, -2), x[..., 1:], reduction="none")
    real = mask[..., 1:].float()
    return (nll * real).sum(-1) / real.sum(-1)


def per_sample_gradients(model, loss, *batch):
    """`{name: S x ...}` gradients of each sample's own loss (torch.func)."""
    params = {k: v.detach() for k, v in model.named_parameters()}

    def one(p, *sample):
        return loss(lambda *a: functional_call(model, p, a),
                    *[s[None] for s in sample])[0]
    return vmap(grad(one), in_dims=(None,) + (0,) * len(batch))(params, *batch)


def explicit_features(fx, grads):
    """Features of the torch.func gradients through the extractor's projector."""
    per_layer = []
    for (name, module), bias in zip(fx.modules, fx.bias):
        g = grads[f"{name}.weight"]
        if bias:
            g = torch.cat([g, grads[f"{name}.bias"][..., None]], -1)
        per_layer.append(g)
    return fx.project_gradients(per_layer)


def assert_rows_close(got, expected, tol=1e-4):
    assert got.shape == expected.shape
    for g, e in zip(got, expected):
        assert np.linalg.norm(g - e) <= tol * max(np.linalg.norm(e), 1e-12), \
            (np.linalg.norm(g - e), np.linalg.norm(e))


def batch(lengths, t, seed=0, vocab=13):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (len(lengths), t), generator=g)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    return x.masked_fill(~mask, 0), mask


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TinyLM()


def test_hook_features_equal_projected_per_sample_gradients_without_padding(model):
    x, mask = batch([7] * 5, 7)
    fx = FactoredFeatures(model, k_in=4, k_out=3, seed=11)
    cap = fx.capture(lm_losses, model, x, mask)  # no mask: every token is real
    assert cap.token_counts.tolist() == [7] * 5
    assert fx.names == ["qkv", "proj", "up", "down", "head"]
    assert fx.bias == [True, False, True, True, True]
    grads = per_sample_gradients(model, lm_losses, x, mask)
    assert_rows_close(fx.project(cap), explicit_features(fx, grads))
    np.testing.assert_allclose(cap.losses, lm_losses(model, x, mask).detach().numpy(),
                               rtol=1e-6)


def test_hook_features_equal_projected_per_sample_gradients_with_padding(model):
    lengths = [7, 3, 5, 2, 7]
    x, mask = batch(lengths, 7, seed=1)
    fx = FactoredFeatures(model, k_in=5, k_out=4, seed=3, kind="gaussian")
    cap = fx.capture(lm_losses, model, x, mask, mask=mask)
    assert cap.token_counts.tolist() == lengths  # only real tokens are rows
    assert all(a.shape[0] == sum(lengths) for a, _ in cap.factors)
    features = fx.project(cap)
    grads = per_sample_gradients(model, lm_losses, x, mask)
    assert_rows_close(features, explicit_features(fx, grads))
    # Padding contributes nothing: each sample alone, unpadded, gives its row.
    for s, n in enumerate(lengths):
        alone = fx.features(lm_losses, model, x[s:s + 1, :n], mask[s:s + 1, :n])
        assert_rows_close(alone, features[s:s + 1])


def test_capture_gradients_materialize_the_per_sample_weight_gradients(model):
    x, mask = batch([6, 4, 2], 6, seed=2)
    fx = FactoredFeatures(model, layers=["up", "down"], bias=False)
    grads = per_sample_gradients(model, lm_losses, x, mask)
    for g, name in zip(fx.gradients(fx.capture(lm_losses, model, x, mask, mask=mask)),
                       fx.names):
        np.testing.assert_allclose(g.numpy(), grads[f"{name}.weight"].numpy(), atol=1e-6)


def test_capture_leaves_parameter_gradients_untouched(model):
    x, mask = batch([5, 5], 5)
    FactoredFeatures(model).capture(lm_losses, model, x, mask)
    assert all(p.grad is None for p in model.parameters())


class MLP(nn.Module):
    """2-D layer inputs (one row per sample); `shared` is called twice."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(6, 10)
        self.shared = nn.Linear(10, 10)
        self.out = nn.Linear(10, 3, bias=False)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        h = torch.tanh(self.shared(torch.tanh(self.shared(h))))
        return self.out(h)


def classifier_losses(model, x, y):
    return nn.functional.cross_entropy(model(x), y, reduction="none")


def test_two_dimensional_inputs_and_a_module_called_twice():
    torch.manual_seed(4)
    model = MLP()
    x, y = torch.randn(6, 6), torch.randint(0, 3, (6,))
    fx = FactoredFeatures(model, k_in=4, k_out=4, seed=2)
    cap = fx.capture(classifier_losses, model, x, y)
    # Two calls of `shared` give two rows per sample; the others are zero-padded.
    assert cap.token_counts.tolist() == [2] * 6
    grads = per_sample_gradients(model, classifier_losses, x, y)
    assert_rows_close(fx.project(cap), explicit_features(fx, grads))


def test_layer_selection_ids_and_feature_layout(model):
    fx = FactoredFeatures(model, layers="*p*", k_in=2, k_out=3)  # proj, up
    assert fx.names == ["proj", "up"]
    assert fx.ids == [layer_id("proj"), layer_id("up")]
    assert fx.dims == [(8, 8), (9, 12)] and fx.feature_dim == 2 * 6
    assert layer_id("proj") == FactoredFeatures(model, layers=lambda n, m: n == "proj").ids[0]
    assert all(0 <= i < 2**63 for i in fx.ids)
    with pytest.raises(ValueError, match="matches"):
        FactoredFeatures(model, layers="nothing")


def test_a_mask_of_the_wrong_length_is_refused(model):
    x, mask = batch([4, 4], 4)
    fx = FactoredFeatures(model)
    with pytest.raises(ValueError, match="positions per sample"):
        fx.capture(lm_losses, model, x, mask, mask=mask[:, :3])


def test_adam_features_follow_less_from_the_optimizer_state(model):
    x, mask = batch([6, 3, 5], 6, seed=5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(2):
        optimizer.zero_grad()
        lm_losses(model, x, mask).mean().backward()
        optimizer.step()
    fx = FactoredFeatures(model, layers=["qkv", "proj"], k_in=4, k_out=4, seed=1)
    got = fx.adam_features(fx.capture(lm_losses, model, x, mask, mask=mask), optimizer)
    grads = per_sample_gradients(model, lm_losses, x, mask)
    expected = []
    for name, bias in zip(fx.names, fx.bias):
        parts = [(model.get_parameter(f"{name}.weight"), grads[f"{name}.weight"])]
        if bias:
            parts.append((model.get_parameter(f"{name}.bias"), grads[f"{name}.bias"]))
        gammas = []
        for p, g in parts:
            m, v = optimizer.state[p]["exp_avg"], optimizer.state[p]["exp_avg_sq"]
            gamma = (0.9 * m + 0.1 * g) / torch.sqrt(0.999 * v + 0.001 * g * g + 1e-8)
            gammas.append(gamma if gamma.dim() == 3 else gamma[..., None])
        expected.append(torch.cat(gammas, -1))
    assert_rows_close(got, fx.project_gradients(expected))


def test_features_feed_the_engine_without_copies(model):
    x, mask = batch([5, 2, 4, 5], 5, seed=6)
    fx = FactoredFeatures(model, k_in=3, k_out=3)
    cap = fx.capture(lm_losses, model, x, mask, mask=mask)
    assert all(a.flags.c_contiguous and a.dtype == np.float32 and
               d.flags.c_contiguous and d.dtype == np.float32 for a, d in cap.factors)
    engine = winnow.Engine(np.arange(4), feature_dim=fx.feature_dim, select_fraction=0.5)
    engine.begin_epoch(0)
    fx.add_target(engine, 0, lm_losses, model, x[:1], mask[:1], mask=mask[:1])
    losses = fx.add_candidates(engine, np.arange(4), lm_losses, model, x, mask, mask=mask)
    plan = engine.end_epoch()
    assert plan.ids.size == 2 and losses.shape == (4,)
    # Sample 0 is the target itself: its cosine is 1, the best.
    assert plan.ids[0] == 0
