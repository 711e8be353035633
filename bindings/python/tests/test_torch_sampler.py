"""winnow.torch.PlanSampler and plan_loader: each epoch yields exactly the
plan's ids with their weights, deterministically under a seed, resumably,
split across replicas like DistributedSampler, and following the mixture
when asked to."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (make test-torch "
                            "creates .venv-torch with the pinned version)")

import winnow  # noqa: E402
from winnow.torch import PlanSampler, plan_loader  # noqa: E402

# Dataset index i holds engine id IDS[i] (ids need not be positions).
IDS = np.arange(100, 140) * 3
DOMAINS = np.arange(40) % 4


def engine_plan(fraction=0.25, seed=0, policy="top_fraction"):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((IDS.size, 8)).astype(np.float32)
    engine = winnow.Engine(IDS, DOMAINS, feature_dim=8, select_fraction=fraction,
                           policy=policy, weighting="self_normalized")
    engine.begin_epoch(0)
    engine.add_target(0, features[:3].mean(0))
    engine.add_candidates(IDS, features)
    return engine.end_epoch()


def positions_of(ids):
    return [int(np.flatnonzero(IDS == i)[0]) for i in ids]


def test_each_epoch_yields_exactly_the_plans_ids_with_their_weights():
    plan = engine_plan()
    sampler = PlanSampler(IDS, seed=1)
    sampler.set_plan(plan)
    expected = sorted(positions_of(plan.ids))
    for epoch in range(3):
        sampler.set_epoch(epoch)
        drawn = list(sampler)
        assert sorted(drawn) == expected and len(sampler) == plan.ids.size
        weights = dict(zip(positions_of(plan.ids), plan.weights.tolist()))
        assert [sampler.weight_for(i) for i in drawn] == [weights[i] for i in drawn]
    assert not np.allclose(plan.weights, 1)  # self-normalized: the weights matter


def test_before_a_plan_an_epoch_is_the_whole_dataset_with_weight_one():
    sampler = PlanSampler(IDS, shuffle=False)
    assert list(sampler) == list(range(IDS.size))
    assert sampler.weights_for([0, 5]).tolist() == [1.0, 1.0]


def test_orders_are_deterministic_under_the_seed_and_change_with_the_epoch():
    plan = engine_plan()
    a, b, c = (PlanSampler(IDS, seed=s) for s in (7, 7, 8))
    for s in (a, b, c):
        s.set_plan(plan)
    assert list(a) == list(b) and list(a) != list(c)
    a.set_epoch(1)
    assert list(a) != list(b) and sorted(a) == sorted(b)
    unshuffled = PlanSampler(IDS, shuffle=False)
    unshuffled.set_plan(plan)
    assert list(unshuffled) == positions_of(plan.ids)  # plan order


def test_resuming_from_a_saved_epoch_draws_the_same_epochs():
    plan = engine_plan(policy="stochastic")
    run = PlanSampler(IDS, domains=DOMAINS, seed=3, draw="mixture", num_samples=30)
    run.set_plan(plan)
    epochs = []
    for epoch in range(4):
        run.set_epoch(epoch)
        epochs.append(list(run))
        if epoch == 1:
            saved = run.state_dict()
    resumed = PlanSampler(IDS, domains=DOMAINS, draw="mixture")  # other settings
    resumed.load_state_dict(saved)
    assert resumed.epoch == 1 and list(resumed) == epochs[1]
    for epoch in (2, 3):
        resumed.set_epoch(epoch)
        assert list(resumed) == epochs[epoch]
        assert resumed.weights_for(epochs[epoch]).tolist() == \
            run.weights_for(epochs[epoch]).tolist()


def test_replicas_share_an_epoch_like_distributed_sampler():
    plan = engine_plan(fraction=0.3)  # 12 ids
    whole = PlanSampler(IDS, seed=2)
    whole.set_plan(plan)
    shares = []
    for rank in range(5):
        s = PlanSampler(IDS, seed=2, num_replicas=5, rank=rank)
        s.set_plan(plan)
        shares.append(list(s))
        assert len(s) == 3
    order = whole.epoch_indices().tolist()
    padded = order + order[:3]
    assert [padded[r::5] for r in range(5)] == shares
    dropped = PlanSampler(IDS, seed=2, num_replicas=5, rank=0, drop_last=True)
    dropped.set_plan(plan)
    assert len(dropped) == 2 and list(dropped) == order[0:10:5]


def test_mixture_draws_follow_the_plans_domain_mixture():
    ids = np.arange(400)
    domains = ids % 4
    sampler = PlanSampler(ids, domains=domains, seed=0, draw="mixture", num_samples=4000)
    selected = ids[(ids % 5 == 0) | (domains == 3)]
    sampler.set_plan(ids=selected, mixture=[0.1, 0.2, 0.3, 0.4])
    drawn = np.asarray(list(sampler))
    share = np.bincount(domains[drawn], minlength=4) / drawn.size
    np.testing.assert_allclose(share, [0.1, 0.2, 0.3, 0.4], atol=0.03)
    assert set(drawn.tolist()) <= set(selected.tolist())
    # Within a domain, every selected id comes once before any comes twice.
    d0 = drawn[domains[drawn] == 0]
    pool0 = selected[domains[selected] == 0]
    assert len(set(d0[:pool0.size].tolist())) == pool0.size


def test_plan_loader_batches_carry_the_plan_weights():
    plan = engine_plan()
    sampler = PlanSampler(IDS, seed=5)
    sampler.set_plan(plan)
    dataset = torch.arange(IDS.size, dtype=torch.float32)[:, None] * 2
    loader = plan_loader(dataset, sampler, batch_size=4)
    weights = dict(zip(positions_of(plan.ids), plan.weights.tolist()))
    seen = []
    for data, w, indices in loader:
        assert torch.equal(data[:, 0], indices.float() * 2)
        assert w.tolist() == [weights[int(i)] for i in indices]
        seen += indices.tolist()
    assert seen == list(sampler) and len(loader) == -(-plan.ids.size // 4)


def test_unknown_plan_ids_and_bad_settings_are_refused():
    sampler = PlanSampler(IDS)
    with pytest.raises(KeyError, match="not in the sampler"):
        sampler.set_plan(ids=[1, 2])
    with pytest.raises(ValueError, match="needs domains"):
        PlanSampler(IDS, draw="mixture")
    with pytest.raises(ValueError, match="distinct"):
        PlanSampler([1, 1])
