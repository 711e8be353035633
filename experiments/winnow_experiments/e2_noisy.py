"""E2 — noisy labels: language identification with 40 % of labels flipped.

Texts are cut to their first ``snippet`` bytes and represented by hashed
byte 1-, 2- and 3-gram counts (``F`` buckets, L2-normalized); a softmax
classifier over the 8 languages is trained with Adam. In the training pool
``noise`` of the labels are flipped to one fixed other language per language
(pair-flip noise, between related languages: cs↔pl, es→pt→it→es, de↔en,
ru→cs). Uniform noise barely hurts a linear model here (the true class keeps
the plurality of every region), pair-flip noise does;
a small clean validation set (the target) and a clean test set are kept.

The training loop drives Winnow through the C ABI every epoch: it trains an
epoch on the current plan, then feeds the clean validation gradients (the
target) and every pool sample's exact per-sample gradient, projected, with
its loss, to a ``winnow.Engine``; the engine's plan (ids and weights) is the
next epoch's training set. Scores are combined across epochs by a moving
average. Strategies:

* ``less``: top fraction by LESS score: the mean cosine to the clean
  validation gradients of each language (one target task per language),
  maximized over languages;
* ``less-quota``: the best of each (noisy) label in proportion to the label
  frequencies (the engine's domain-quota policy, domains = labels), so that
  no language is dropped;
* ``less-stochastic``: Gumbel-top-k with the exploration floor, trained with
  the unbiased weights ``n/(N·π_i)``;
* ``less-reweight``: the whole pool, self-normalized weights ``∝ exp(s/τ)``;
* ``small-loss``: the lowest-loss fraction each epoch (the classic
  noisy-label baseline), ranked by Winnow's top-fraction selection;
* ``random``, ``full`` and ``clean-oracle`` (the clean samples only, which no
  real user knows) as references.
Metric: clean test accuracy (and the share of clean samples selected).
"""

from __future__ import annotations

import numpy as np

from . import strategies as st
from . import winnow_bridge as wb
from .data import encode_bytes, load_corpus
from .harness import Config, Run
from .models import Adam, SoftmaxClassifier

SIZES = {
    "full": dict(pool=6000, snippet=32, features=1024, n_val=160, n_test=3000, noise=0.4,
                 epochs=12, lr=0.01, batch=64, k=128, fractions=(0.3, 0.5), chunk=1000),
    "quick": dict(pool=2500, snippet=32, features=512, n_val=120, n_test=1500, noise=0.4,
                  epochs=8, lr=0.01, batch=64, k=64, fractions=(0.3, 0.5), chunk=1000),
    "tiny": dict(pool=400, snippet=24, features=128, n_val=40, n_test=200, noise=0.4,
                 epochs=3, lr=0.02, batch=64, k=16, fractions=(0.5,), chunk=400),
}
TEMPERATURE = 0.05  # the stochastic policy's softmax temperature over cosines
WEIGHT_TEMPERATURE = 0.05


def ngram_features(texts, snippet: int, F: int) -> np.ndarray:
    """Hashed byte 1/2/3-gram counts of each text's first ``snippet`` bytes,
    L2-normalized rows: ``N × F`` float32."""
    X, lens = encode_bytes(texts, snippet)
    X = X.astype(np.int64)
    N = len(X)
    out = np.zeros((N, F), np.float64)
    rows = np.repeat(np.arange(N), snippet)
    for n in (1, 2, 3):
        code = np.zeros((N, snippet - n + 1), np.int64)
        for j in range(n):
            code = code * 257 + X[:, j:snippet - n + 1 + j]
        valid = (np.arange(snippet - n + 1)[None, :] + n) <= lens[:, None]
        h = ((code * 2654435761 + n * 97) % (1 << 31)) % F
        r = rows.reshape(N, snippet)[:, :snippet - n + 1]
        np.add.at(out, (r[valid], h[valid]), 1.0)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out.astype(np.float32)


def _pairs(languages) -> np.ndarray:
    """The language each language's flipped labels go to (pair-flip noise,
    between similar languages where there is one)."""
    to = {"cs": "pl", "pl": "cs", "es": "pt", "pt": "it", "it": "es", "de": "en", "en": "de",
          "ru": "cs"}
    return np.array([languages.index(to[l]) for l in languages])


def make_task(size, seed=4321):
    """Pool (noisy labels, true labels), clean validation and test sets."""
    c = load_corpus()
    rng = np.random.default_rng(seed)
    n = size["pool"] + size["n_val"] + size["n_test"]
    ix = rng.choice(len(c), n, replace=False)
    X = ngram_features([c.texts[i] for i in ix], size["snippet"], size["features"])
    y = c.language[ix].astype(np.int64)
    C = len(c.languages)
    P, V = size["pool"], size["n_val"]
    y_noisy = y[:P].copy()
    flip = rng.random(P) < size["noise"]
    y_noisy[flip] = _pairs(list(c.languages))[y[:P][flip]]
    return dict(X=X[:P], y=y_noisy, clean=~flip, Xv=X[P:P + V], yv=y[P:P + V],
                Xt=X[P + V:], yt=y[P + V:], C=C)


def train(size, task, seed, select=None):
    """Trains for ``epochs``; ``select(epoch, model)`` returns the next
    epoch's (positions, weights) or ``None`` to keep the current ones.
    Returns the model and the mean clean share of the epochs' selections."""
    X, y = task["X"], task["y"]
    model = SoftmaxClassifier(X.shape[1], task["C"])
    opt = Adam(model.size, size["lr"])
    rng = np.random.default_rng(seed)
    ix, w = np.arange(len(y)), np.ones(len(y), np.float32)
    shares = []
    for ep in range(size["epochs"]):
        model.train_epoch(opt, X[ix], y[ix], w, rng, size["batch"])
        shares.append(float(task["clean"][ix].mean()))
        if select is not None and ep + 1 < size["epochs"]:
            nxt = select(ep, model)
            if nxt is not None:
                ix, w = nxt
                w = np.ones(len(ix), np.float32) if w is None else w.astype(np.float32)
    return model, float(np.mean(shares[1:] if len(shares) > 1 else shares))


def engine_selector(size, task, seed, fraction, policy, by_label=False, **params):
    """A ``select`` callback that drives a Winnow engine every epoch; with
    ``by_label`` the engine's domains are the (noisy) labels, started from
    their frequencies."""
    X, y = task["X"], task["y"]
    N = len(y)
    proj = wb.Projector(X.shape[1] * task["C"] + task["C"], size["k"], seed=seed)
    eng = wb.Engine(N, size["k"], y.astype(np.int32) if by_label else None, policy=policy,
                    fraction=fraction, seed=seed, score_combination="moving_average",
                    ema_decay=0.5, tasks=task["C"], **params)
    if by_label:
        eng.set_initial_mixture(np.bincount(y, minlength=task["C"]) + 1.0)
    ids = np.arange(N, dtype=np.int64)

    def select(ep, model):
        eng.begin_epoch(ep, size["lr"])
        Gv, _ = model.per_sample_grads(task["Xv"], task["yv"])
        Fv = proj.project(Gv)
        for c in range(task["C"]):  # one target task per language: LESS's max over subtasks
            eng.add_target(c, Fv[task["yv"] == c])
        for s in range(0, N, size["chunk"]):
            G, loss = model.per_sample_grads(X[s:s + size["chunk"]], y[s:s + size["chunk"]])
            eng.add_candidates(ids[s:s + len(G)], proj.project(G), loss.astype(np.float32))
        p = eng.end_epoch()
        return p["ids"], p["weights"]

    return select


def small_loss_selector(task, fraction):
    def select(ep, model):
        _, loss = model.per_sample_grads(task["X"], task["y"])
        return st.top_by_score(-loss, fraction), None

    return select


def run(config: Config, size_name: str | None = None) -> str:
    size_name = size_name or ("quick" if config.quick else "full")
    size = SIZES[size_name]
    r = Run("e2", config, settings=dict(size, size=size_name, winnow_version=wb.version()))
    task = make_task(size)
    r.log(f"pool {len(task['y'])}, {100 * (1 - task['clean'].mean()):.1f} % labels flipped, "
          f"{len(task['yv'])} clean validation, {len(task['yt'])} clean test")
    for seed in range(config.seeds):
        cells = [("full", 1.0, None),
                 ("clean-oracle", round(float(task["clean"].mean()), 3),
                  lambda ep, m: (np.flatnonzero(task["clean"]), None)),
                 ("less-reweight", 1.0,
                  engine_selector(size, task, seed, 1.0, "top_fraction", weighting="self_normalized",
                                  weight_temperature=WEIGHT_TEMPERATURE, weight_min=0.0,
                                  weight_max=10.0))]
        for f in size["fractions"]:
            sub = st.random_subset(len(task["y"]), f, seed)
            cells += [("random", f, lambda ep, m, sub=sub: (sub, None)),
                      ("small-loss", f, small_loss_selector(task, f)),
                      ("less", f, engine_selector(size, task, seed, f, "top_fraction")),
                      ("less-quota", f, engine_selector(size, task, seed, f, "domain_quota",
                                                        by_label=True)),
                      ("less-stochastic", f,
                       engine_selector(size, task, seed, f, "stochastic", temperature=TEMPERATURE,
                                       weighting="unbiased"))]
        for name, f, sel in cells:
            if name in ("random", "clean-oracle"):  # a fixed subset from the first epoch on
                ix = sel(0, None)[0]
                model, share = train(size, dict(task, X=task["X"][ix], y=task["y"][ix],
                                                clean=task["clean"][ix]), seed)
            else:
                model, share = train(size, task, seed, sel)
            acc = model.accuracy(task["Xt"], task["yt"])
            r.add(name, f, seed, "accuracy", acc)
            r.add(name, f, seed, "clean_share", share)
            r.log(f"seed {seed}: {name:16s} f={f:<5g} accuracy {acc:.4f} clean share {share:.2f}")
    return r.finish("accuracy", lower_is_better=False, extra_plots=[("clean_share", False)])
