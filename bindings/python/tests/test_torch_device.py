"""winnow.torch's first stage on the device: the same features as libwinnow's
CPU path on either per-layer path, only features reaching the host, fp32
accumulation of half-precision models, and clear errors for misuse."""

import weakref

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (make test-torch)")
transformers = pytest.importorskip("transformers", reason="make test-torch installs transformers")
peft = pytest.importorskip("peft", reason="make test-torch installs peft")

from test_torch_transformers import (assert_rows_close, enable_checkpointing, gpt2,  # noqa: E402
                                     llama, lm_losses, lora, padded_batch, reference)
from winnow.torch import FactoredFeatures  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def lora_llama():
    return lora(llama(), ["q_proj", "k_proj", "v_proj", "o_proj"])


def test_auto_mixes_paths_by_flops_and_every_path_equals_the_cpu_path(lora_llama):
    ids, mask = padded_batch([8, 5, 8], 8, "right", seed=7)
    # Projections that hardly shrink the adapters' tiny G (k_in = r = 4,
    # k_out = 32 = d): forming G first is cheaper. Projections much smaller
    # than the layer: the factored path is.
    small = FactoredFeatures(lora_llama, k_in=2, k_out=2)
    small.features(lm_losses, lora_llama, ids, mask, mask=mask)
    assert set(small.paths.values()) == {"factored"}
    fx = FactoredFeatures(lora_llama, k_in=4, k_out=32, seed=3)
    cpu = fx.project(fx.capture(lm_losses, lora_llama, ids, mask, mask=mask))
    auto = fx.features(lm_losses, lora_llama, ids, mask, mask=mask)
    assert "materialized" in fx.paths.values()
    for plan in fx.plans + small.plans:
        cheaper = min(plan.factored_flops, plan.materialized_flops)
        assert plan.path == ("factored" if plan.factored_flops == cheaper else "materialized")
    assert_rows_close(auto, cpu)
    for path in ["factored", "materialized"]:
        forced = FactoredFeatures(lora_llama, k_in=4, k_out=32, seed=3, path=path)
        assert_rows_close(forced.features(lm_losses, lora_llama, ids, mask, mask=mask), cpu)
        assert set(forced.paths.values()) == {path}


def test_only_features_reach_the_host(lora_llama):
    ids, mask = padded_batch([12] * 4, 12, "right", seed=8)
    fx = FactoredFeatures(lora_llama, k_in=4, k_out=4)
    fx.features(lm_losses, lora_llama, ids, mask, mask=mask)
    feature_bytes = 4 * fx.feature_dim
    assert fx.host_bytes / 4 <= 2 * feature_bytes  # features + one loss per sample
    cpu_path_bytes = sum(4 * 12 * (d_in + d_out) for d_in, d_out in fx.dims)
    assert cpu_path_bytes > 10 * feature_bytes  # what the CPU factors would have cost


def test_llama_7b_shapes_send_features_not_factors_to_the_host():
    """d = 4096, 32 layers, LoRA r = 128 on q, k, v, o, 2048 tokens, k = 16:
    computed from the layer shapes of a model on the meta device."""
    config = transformers.LlamaConfig(hidden_size=4096, intermediate_size=11008,
                                      num_hidden_layers=32, num_attention_heads=32)
    with torch.device("meta"):
        model = lora(transformers.LlamaForCausalLM(config),
                     ["q_proj", "k_proj", "v_proj", "o_proj"], r=128)
    fx = FactoredFeatures(model, k_in=16, k_out=16)  # the trainable adapters
    assert len(fx.layers) == 32 * 4 * 2
    tokens, feature_bytes = 2048, 4 * fx.feature_dim
    assert feature_bytes == 32 * 8 * 16 * 16 * 4  # 256 KiB
    host = 4 * (fx.feature_dim + 1)  # what the device path copies per sample
    factors = sum(4 * tokens * (d_in + d_out) for d_in, d_out in fx.dims)
    assert host <= 2 * feature_bytes
    assert factors == 32 * 4 * 2 * 4 * tokens * (4096 + 128)  # 8.9 GB the CPU path copied
    for plan in fx.plan(1, tokens, torch.bfloat16):
        assert plan.path == "factored"


def test_half_precision_models_accumulate_in_float32(lora_llama):
    ids, mask = padded_batch([8, 6], 8, "right", seed=9)
    fx = FactoredFeatures(lora_llama, k_in=4, k_out=4)
    full = fx.features(lm_losses, lora_llama, ids, mask, mask=mask)
    half = lora(llama(), ["q_proj", "k_proj", "v_proj", "o_proj"]).to(torch.bfloat16)
    got = FactoredFeatures(half, k_in=4, k_out=4).features(lm_losses, half, ids, mask, mask=mask)
    assert got.dtype == np.float32 and np.isfinite(got).all()
    # bf16 keeps 8 bits: the model's own rounding, not the projection's, sets the gap.
    assert np.linalg.norm(got - full) <= 0.1 * np.linalg.norm(full)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("name", ["llama-lora", "gpt2", "llama-embeddings"])
@pytest.mark.parametrize("path", ["auto", "factored", "materialized"])
def test_cuda_features_equal_the_cpu_path(name, path):
    model, layers, embeddings = {
        "llama-lora": (lambda: lora(llama(), ["q_proj", "v_proj"]), None, False),
        "gpt2": (gpt2, "transformer.h.*", False),
        "llama-embeddings": (llama, ["model.embed_tokens", "lm_head"], True),
    }[name]
    model = model()
    ids, mask = padded_batch([8, 3, 6], 8, "left", seed=10)
    fx = FactoredFeatures(model, layers, k_in=4, k_out=4, embeddings=embeddings, path=path)
    cpu = fx.project(fx.capture(lm_losses, model, ids, mask, mask=mask))
    model.cuda()
    got = fx.features(lm_losses, model, ids.cuda(), mask.cuda(), mask=mask.cuda())
    assert_rows_close(got, cpu)
    assert fx.host_bytes <= 2 * 4 * fx.feature_dim * ids.shape[0]
    half = model.to(torch.bfloat16)
    got = fx.features(lm_losses, half, ids.cuda(), mask.cuda(), mask=mask.cuda())
    assert np.isfinite(got).all() and np.linalg.norm(got - cpu) <= 0.1 * np.linalg.norm(cpu)


# MARK: - Misuse


def test_capture_under_no_grad_is_refused(lora_llama):
    ids, mask = padded_batch([4, 4], 4, "right")
    fx = FactoredFeatures(lora_llama)
    for context in [torch.no_grad, torch.inference_mode]:
        with context(), pytest.raises(RuntimeError, match="needs autograd"):
            fx.features(lm_losses, lora_llama, ids, mask)


def test_a_batch_mean_loss_is_refused(lora_llama):
    ids, mask = padded_batch([4, 4], 4, "right")
    with pytest.raises(ValueError, match="per-sample losses"):
        FactoredFeatures(lora_llama).features(lambda *a: lm_losses(*a).mean(), lora_llama,
                                              ids, mask)


def test_reentrant_checkpointing_is_refused_with_the_fix():
    model = gpt2()
    enable_checkpointing(model, reentrant=True)
    model.train()
    ids, mask = padded_batch([4, 4], 4, "right")
    with pytest.raises(RuntimeError, match="use_reentrant': False"):
        FactoredFeatures(model, layers="transformer.h.*").features(lm_losses, model, ids, mask)


def test_nothing_trainable_and_unmatched_patterns_say_what_they_saw():
    model = gpt2()
    with pytest.raises(ValueError, match="Conv1D"):
        FactoredFeatures(model, layers="transformer.h.*.attn")  # the block, not its layers
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable layer"):
        FactoredFeatures(model)


def test_a_frozen_chosen_layer_still_gets_its_gradient_features():
    model = gpt2()
    ids, mask = padded_batch([5, 3], 5, "right", seed=11)
    fx = FactoredFeatures(model, layers="transformer.h.1.mlp.*", k_in=4, k_out=4)
    expected = reference(fx, lm_losses, model, ids, mask)
    model.requires_grad_(False)  # no parameter requires grad: the taps still see D
    assert_rows_close(fx.features(lm_losses, model, ids, mask, mask=mask), expected)


def test_a_fresh_lora_adapter_warns_that_lora_a_features_are_zero():
    model = lora(llama(), ["q_proj"], zero_b=True)
    ids, mask = padded_batch([5, 5], 5, "right")
    with pytest.warns(RuntimeWarning, match="fresh LoRA adapter"):
        got = FactoredFeatures(model, k_in=2, k_out=2).features(lm_losses, model, ids, mask)
    assert not got[:, :4].any() and got[:, 4:8].any()  # lora_A of layer 0 zero, lora_B not


def test_no_output_gradient_is_kept_past_its_own_layer(monkeypatch):
    """Each tap hands D to the first stage, which reduces it to the layer's
    features and keeps no reference: when a tap fires, no earlier D handed
    out is still alive. `capture`, which returns every D, keeps them all."""
    from winnow._torch_device import Tap

    alive_at_each_call, refs = [], []
    original = Tap.backward

    def backward(ctx, grad):
        sink = ctx.sink

        def watched(l, call, g):
            alive_at_each_call.append(sum(r() is not None for r in refs))
            refs.append(weakref.ref(g))
            sink(l, call, g)

        ctx.sink = watched
        return original(ctx, grad)

    monkeypatch.setattr(Tap, "backward", staticmethod(backward))
    model = llama()
    ids, mask = padded_batch([8, 8], 8, "right", seed=12)
    fx = FactoredFeatures(model, k_in=2, k_out=2)
    fx.features(lm_losses, model, ids, mask, mask=mask)
    assert len(alive_at_each_call) == len(fx.layers) == 15
    assert max(alive_at_each_call) == 0
    alive_at_each_call.clear()
    refs.clear()
    fx.capture(lm_losses, model, ids, mask, mask=mask)
    assert alive_at_each_call == list(range(15))
