"""E3 — domain mixture for a target domain.

The byte LM of E1 is trained for ``rounds`` rounds of ``steps`` Adam steps;
each batch is drawn domain by domain from the pool according to a mixture
``α`` over all domains (languages and English topics). Fixed mixtures:

* ``uniform``: every domain alike;
* ``natural``: the pool's own proportions.

Learned mixtures (``winnow.Engine`` mixture rules, driven by the training loop
after every round through the C ABI: the target texts' gradients and a probe
of ``probe`` texts per domain — exact per-sample gradients, projected by
Winnow, with their losses — are fed, and the plan's mixture is the next
round's ``α``):

* ``align``: gradient alignment (DoGE style), ``log α += clip(W)/μ``;
* ``doremi``: excess loss over a reference model (DoReMi style; the
  reference is the same seed's ``uniform`` model), time-averaged;
* ``bandit``: EXP3 on the training losses (ODM style).

Metric: held-out bits per byte on the target domain, and the final weight of
the target domain in the mixture.
"""

from __future__ import annotations

import numpy as np

from . import winnow_bridge as wb
from .data import encode_bytes, load_corpus
from .e1_targeted import make_split
from .harness import Config, Run
from .models import Adam, ByteLM

SIZES = {
    "full": dict(pool=10000, max_len=96, n_val=32, n_test=400, k=256, rounds=10, steps=40,
                 probe=8, lr=3e-3, batch=32, hidden=128),
    "quick": dict(pool=3000, max_len=80, n_val=24, n_test=200, k=128, rounds=6, steps=30,
                  probe=6, lr=3e-3, batch=32, hidden=96),
    "tiny": dict(pool=400, max_len=48, n_val=8, n_test=30, k=32, rounds=2, steps=4,
                 probe=2, lr=3e-3, batch=16, hidden=32),
}
DEFAULT_TARGET = "cs"
RULES = {"align": dict(mixture_rule="gradient_alignment", alignment_temperature=0.1),
         "doremi": dict(mixture_rule="excess_loss", excess_loss_step_size=1.0),
         "bandit": dict(mixture_rule="bandit")}


def _draw(rng, members, alpha, n):
    """``n`` pool positions: domains by ``alpha``, texts uniformly within."""
    counts = rng.multinomial(n, alpha)
    return np.concatenate([rng.choice(members[d], c) for d, c in enumerate(counts) if c])


def train_mixture(size, data, seed, alpha0, rule=None, reference=None):
    """Trains a fresh model under a fixed (``rule is None``) or learned
    mixture; returns the model and the mixture used in the last round."""
    Xp, lp, Xv, lv, dom, K = data["Xp"], data["lp"], data["Xv"], data["lv"], data["dom"], data["K"]
    members = [np.flatnonzero(dom == d) for d in range(K)]
    rng = np.random.default_rng(seed)
    model = ByteLM(hidden=size["hidden"], seed=100 + seed)
    opt = Adam(model.size, size["lr"])
    alpha = np.asarray(alpha0, np.float64) / np.sum(alpha0)
    if rule is not None:
        proj = wb.Projector(model.size, size["k"], seed=seed)
        eng = wb.Engine(len(dom), size["k"], dom, seed=seed, **RULES[rule])
        eng.set_initial_mixture(alpha)
    for rnd in range(size["rounds"]):
        ix = _draw(rng, members, alpha, size["steps"] * size["batch"])
        rng.shuffle(ix)
        model.fit(Xp[ix], lp[ix], 1, lr=size["lr"], batch=size["batch"], seed=seed + rnd, opt=opt)
        if rule is None:
            continue
        probe = np.concatenate([rng.choice(m, min(size["probe"], len(m)), replace=False)
                                for m in members])
        eng.begin_epoch(rnd, size["lr"])
        Gv, _ = model.per_sample_grads(Xv, lv)
        eng.add_target(0, proj.project(Gv))
        G, loss = model.per_sample_grads(Xp[probe], lp[probe])
        ref = None if reference is None else reference.per_sample_losses(
            Xp[probe], lp[probe]).astype(np.float32)
        eng.add_candidates(probe.astype(np.int64), proj.project(G), loss.astype(np.float32),
                           ref)
        plan = eng.end_epoch()
        alpha = plan["mixture_average"] if rule == "doremi" else plan["mixture"]
    return model, alpha


def run(config: Config, size_name: str | None = None) -> str:
    size_name = size_name or ("quick" if config.quick else "full")
    size = SIZES[size_name]
    target = config.target or DEFAULT_TARGET
    r = Run("e3", config, settings=dict(size, target=target, size=size_name,
                                         winnow_version=wb.version()))
    corpus = load_corpus()
    corpus.domain_index(target)  # fails early, naming --list-domains, if unknown
    val, test, pool = make_split(corpus, target, size["pool"], size["n_val"], size["n_test"])
    enc = lambda ix: encode_bytes([corpus.texts[i] for i in ix], size["max_len"])  # noqa: E731
    (Xp, lp), (Xv, lv), (Xt, lt) = enc(pool), enc(val), enc(test)
    # Domains absent from the pool (possible at tiny sizes) are left out, so
    # every engine domain has texts: ``names[d]`` is engine domain ``d``.
    present = np.unique(corpus.domain[pool])
    names = [corpus.domains[d] for d in present]
    dom = np.searchsorted(present, corpus.domain[pool]).astype(np.int32)
    K = len(present)
    ti = names.index(target)
    data = dict(Xp=Xp, lp=lp, Xv=Xv, lv=lv, dom=dom, K=K)
    natural = np.bincount(dom, minlength=K).astype(np.float64)
    uniform = np.ones(K) / K
    r.settings["target_natural_share"] = float(natural[ti] / natural.sum())
    r.log(f"target {target}: {K} domains, natural share {natural[ti] / natural.sum():.3f}, "
          f"uniform share {uniform[ti]:.3f}")
    mixtures = {}
    for seed in range(config.seeds):
        ref = None
        for name in ("uniform", "natural", *RULES):
            a0 = natural if name == "natural" else uniform
            model, alpha = train_mixture(size, data, seed, a0, None if name in ("uniform", "natural")
                                         else name, reference=ref if name == "doremi" else None)
            if name == "uniform":
                ref = model
            bpb = model.bits_per_byte(Xt, lt)
            r.add(name, 1.0, seed, "bpb", bpb)
            r.add(name, 1.0, seed, "target_weight", float(alpha[ti]))
            mixtures.setdefault(name, []).append(alpha.tolist())
            r.log(f"seed {seed}: {name:8s} bpb {bpb:.4f}  target weight {alpha[ti]:.3f}")
    r.settings["final_mixtures"] = {n: dict(zip(names, np.mean(m, 0).round(4).tolist()))
                                    for n, m in mixtures.items()}
    return r.finish("bpb", lower_is_better=True, reference="uniform",
                    extra_plots=[("target_weight", False)])
