"""A real NumPy training loop driven by the binding every epoch.

A softmax-regression language identifier (English / German / Spanish
fortunes, bag-of-bytes features) trains only on what each epoch's plan
selects. A fifth of the training labels are corrupted. Per-sample gradients
are computed exactly in NumPy and fed raw (projected inside libwinnow);
the validation gradients are the target. The test checks that the plans
follow the model: they favour samples whose gradient agrees with the
validation gradient (and so avoid corrupted labels), and they change when
the model does.
"""

import numpy as np
import pytest

import winnow

from fortunes import available, dataset

pytestmark = pytest.mark.skipif(not available(), reason="Debian fortunes packages missing")

CLASSES = 3
EPOCHS, STEPS, LR = 8, 10, 1.0


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def per_sample_gradients(w, x, y):
    """`n x (257*3)`: the exact gradient of each sample's cross-entropy in `w`."""
    p = softmax(x @ w)
    p[np.arange(len(y)), y] -= 1
    return np.einsum("ni,nc->nic", x, p).reshape(len(y), -1).astype(np.float32)


def losses(w, x, y):
    p = softmax(x @ w)
    return (-np.log(p[np.arange(len(y)), y] + 1e-12)).astype(np.float32)


def accuracy(w, x, y):
    return float(((x @ w).argmax(axis=1) == y).mean())


def cosine_to(g, target):
    g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    return g @ (target / np.linalg.norm(target))


@pytest.fixture(scope="module")
def data():
    x, y = dataset(per_language=420, seed=1)
    rng = np.random.default_rng(2)
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    val = slice(0, 240)
    xt, yt = x[240:], y[240:].copy()
    noisy = rng.random(len(yt)) < 0.2
    yt[noisy] = (yt[noisy] + rng.integers(1, CLASSES, noisy.sum())) % CLASSES
    return xt, yt, noisy, x[val], y[val]


def feed_epoch(engine, projector, w, xt, yt, ids, xv, yv, epoch):
    """One epoch of LESS-style feeding: validation gradients as the target,
    candidate gradients and losses in batches of 128."""
    engine.begin_epoch(epoch, learning_rate=0.5)
    engine.add_target(0, per_sample_gradients(w, xv, yv), projector=projector)
    for b in range(0, len(ids), 128):
        s = slice(b, b + 128)
        engine.add_candidates(ids[s], per_sample_gradients(w, xt[s], yt[s]),
                              losses=losses(w, xt[s], yt[s]), projector=projector)
    return engine.end_epoch()


def test_training_on_plans_follows_the_model(data):
    xt, yt, noisy, xv, yv = data
    n, dim = len(yt), xt.shape[1] * CLASSES
    ids = np.arange(100, 100 + n, dtype=np.int64)
    domains = yt.astype(np.int32)  # the (observed) language is the domain
    projector = winnow.Projector(dim, 128, seed=3)
    # Quotas per observed language keep the plan class-balanced; within a
    # language the best-aligned samples are the correctly labelled ones.
    engine = winnow.Engine(ids, domains, feature_dim=128, select_fraction=0.4,
                           score_combination="moving_average", ema_decay=0.0,
                           policy="domain_quota", warmup_epochs=1)
    w = np.zeros((xt.shape[1], CLASSES))
    position = {int(i): p for p, i in enumerate(ids)}
    plans, start = [], accuracy(w, xv, yv)
    for epoch in range(EPOCHS):
        plan = feed_epoch(engine, projector, w, xt, yt, ids, xv, yv, epoch)
        assert plan.epoch == epoch and abs(plan.mixture.sum() - 1) < 1e-9
        assert plan.domain_counts.sum() == len(plan.ids)
        rows = np.array([position[int(i)] for i in plan.ids])
        if plan.kind == "planned":
            # The plan prefers what agrees with the validation gradient now.
            g = per_sample_gradients(w, xt, yt)
            target = per_sample_gradients(w, xv, yv).mean(axis=0)
            alignment = cosine_to(g, target)
            assert alignment[rows].mean() > alignment.mean()
            assert noisy[rows].mean() < 0.5 * noisy.mean()
            plans.append(set(plan.ids.tolist()))
        # Train on the plan: weighted full-batch gradient steps.
        weights = plan.weights[:, None, None].astype(np.float64)
        for _ in range(STEPS):
            g = per_sample_gradients(w, xt[rows], yt[rows]).reshape(len(rows), -1, CLASSES)
            w -= LR * (weights * g).sum(axis=0) / weights.sum()
    assert plan.kind == "planned"
    assert accuracy(w, xv, yv) > max(0.8, start + 0.3)
    # Plans move with the model: a fresh engine fed gradients of the initial
    # model picks a different set than the trained model's last plan.
    fresh = winnow.Engine(ids, domains, feature_dim=128, select_fraction=0.4,
                          policy="domain_quota")
    initial = feed_epoch(fresh, projector, np.zeros_like(w), xt, yt, ids, xv, yv, 0)
    overlap = len(plans[-1] & set(initial.ids.tolist())) / len(plans[-1])
    assert overlap < 0.9
    print(f"\nvalidation accuracy {start:.2f} -> {accuracy(w, xv, yv):.2f}; "
          f"noisy in last plan {noisy[rows].mean():.2f} vs pool {noisy.mean():.2f}; "
          f"overlap with the initial model's plan {overlap:.2f}")
