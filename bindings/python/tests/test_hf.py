"""winnow.hf: per-sample losses from dict batches, and WinnowTrainer training
every epoch on exactly the engine's plan (ids, order, weights) with a fixed
epoch length, in one process and in two (gloo), and resuming from a
mid-epoch checkpoint onto the same plans and data order."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (make test-hf)")
pytest.importorskip("transformers", reason="transformers is not installed (make test-hf)")

import winnow  # noqa: E402
from winnow.hf import per_sample_losses, sample_losses  # noqa: E402
from winnow.torch import PlanSampler  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import hf_tiny  # noqa: E402

# fp32 sums over <= 12 tokens of O(1) terms: padding changes only the
# order of reductions inside attention, a few ulps of O(1) values.
LOSS_TOLERANCE = 1e-5


def test_per_sample_loss_ignores_left_and_right_padding_and_minus_100_labels():
    model = hf_tiny.tiny_llama().eval()
    x = torch.tensor([5, 9, 17, 3, 44, 2, 8])
    alone = sample_losses(model, {"input_ids": x[None], "attention_mask": torch.ones(1, 7),
                                  "labels": x[None]})
    pad, ignore = torch.zeros(3, dtype=torch.long), torch.full((3,), -100)
    ones, zeros = torch.ones(7, dtype=torch.long), torch.zeros(3, dtype=torch.long)
    batch = {"input_ids": torch.stack([torch.cat([x, pad]), torch.cat([pad, x])]),
             "attention_mask": torch.stack([torch.cat([ones, zeros]), torch.cat([zeros, ones])]),
             "labels": torch.stack([torch.cat([x, ignore]), torch.cat([ignore, x])])}
    both = sample_losses(model, batch)
    assert both.shape == (2,)
    assert torch.allclose(both, alone.expand(2), atol=LOSS_TOLERANCE, rtol=0)
    # The per-sample mean over real targets is the model's own token mean
    # when there is one sample.
    own = model(input_ids=x[None], labels=x[None]).loss
    assert abs(float(own.detach()) - float(alone[0].detach())) < LOSS_TOLERANCE
    # A sample whose labels are all -100 has loss 0, not NaN.
    none = per_sample_losses(torch.randn(1, 4, 8), torch.full((1, 4), -100))
    assert float(none[0]) == 0.0


def test_classifier_losses_are_cross_entropy_per_sample():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([0, 2])
    got = per_sample_losses(logits, labels)
    want = -torch.log_softmax(logits, 1)[torch.arange(2), labels]
    assert torch.allclose(got, want, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="logits of shape"):
        per_sample_losses(torch.zeros(2, 3, 4, 5), labels)


def epoch_order(plan_positions, epoch, seed=7, n=80):
    s = PlanSampler(n, seed=seed)
    s.set_plan(ids=plan_positions)
    s.set_epoch(epoch)
    return s.epoch_indices().tolist()


def replayed_plans(journal):
    """The engine's plans, from a fresh engine fed the recorded epochs."""
    e = winnow.Engine(np.arange(80), feature_dim=journal[0]["features"].shape[1],
                      select_fraction=0.2, seed=7, score_combination="moving_average",
                      weighting="self_normalized", weight_temperature=0.05)
    out = []
    for r in journal:
        e.begin_epoch(r["epoch"], max(r["lr"], 1e-30))
        e.add_target(0, r["target"])
        e.add_candidates(r["ids"], r["features"], losses=r["losses"])
        p = e.end_epoch()
        out.append((p.ids, p.weights))
    return out


def test_each_epoch_trains_exactly_the_engines_plan_with_a_fixed_length(tmp_path):
    t = hf_tiny.trainer(str(tmp_path), epochs=3)
    t.train()
    assert t.state.max_steps == 3 * 16 // 4 and t.state.global_step == t.state.max_steps
    assert abs(t.state.epoch - 3) < 1e-9
    # Epoch 0 from the initial scoring, epoch 1 from epoch 0's in-step rows
    # only, epoch 2 from epoch 1's plus the rest of the pool (select_every=2).
    assert sorted(t.plans) == [0, 1, 2] and len(t.selector.journal) == 3
    assert [r["ids"].size for r in t.selector.journal] == [80, 16, 80]
    for e, (ids, weights) in enumerate(replayed_plans(t.selector.journal)):
        positions, planned_weights = t.plans[e]
        assert positions.tolist() == ids.tolist()  # pool ids are positions here
        assert planned_weights.tolist() == weights.tolist()
        assert not np.allclose(weights, 1)  # the weights are not trivially uniform
        assert t.trained[e] == epoch_order(positions, e)
        by_position = dict(zip(positions.tolist(), weights.tolist()))
        assert t.trained_weights[e] == pytest.approx([by_position[i] for i in t.trained[e]],
                                                     abs=0)


def test_resume_from_a_mid_epoch_checkpoint_trains_the_same_plans_and_order(tmp_path):
    full = hf_tiny.trainer(str(tmp_path / "a"), epochs=3, save_steps=6)
    full.train()
    audit = (tmp_path / "a" / "winnow-audit.jsonl").read_text()
    resumed = hf_tiny.trainer(str(tmp_path / "a"), epochs=3)
    resumed.train(resume_from_checkpoint=str(tmp_path / "a" / "checkpoint-6"))
    for e in range(3):
        assert resumed.plans[e][0].tolist() == full.plans[e][0].tolist()
        assert resumed.plans[e][1].tolist() == full.plans[e][1].tolist()
    # Step 6 is the middle of epoch 1 (4 steps per epoch): the resumed run
    # trains the rest of epoch 1 and all of epoch 2, in the same order.
    assert resumed.trained[1] == full.trained[1][8:]
    assert resumed.trained[2] == full.trained[2]
    assert (tmp_path / "a" / "winnow-audit.jsonl").read_text() == audit


def free_port() -> int:
    # torchrun's static rendezvous needs a real port (0 hangs the workers).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_share_one_plan_and_train_each_id_once(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(sys.path))
    worker = os.path.join(os.path.dirname(__file__), "hf_tiny.py")
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", str(free_port()), worker, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["plans"] == ranks[1]["plans"]
    # 16 samples per epoch, 4 per batch and rank: 2 steps of 2 batches.
    assert ranks[0]["max_steps"] == 3 * 2
    for e, (positions, weights) in ranks[0]["plans"].items():
        order = epoch_order(positions, int(e))
        batches = [order[i:i + 4] for i in range(0, len(order), 4)]
        for r in range(2):  # accelerate gives rank r batches r, r + 2, ...
            assert ranks[r]["trained"][e] == sum(batches[r::2], [])
            by_position = dict(zip(positions, weights))
            assert ranks[r]["trained_weights"][e] == [by_position[i]
                                                      for i in ranks[r]["trained"][e]]
        assert sorted(ranks[0]["trained"][e] + ranks[1]["trained"][e]) == sorted(positions)


@pytest.mark.parametrize("features", ["sgd", "adam"])
def test_in_step_features_equal_a_separate_pass_despite_weights_and_batch_mean(tmp_path,
                                                                              features):
    t = hf_tiny.trainer(str(tmp_path), epochs=1, features=features)
    t.create_optimizer_and_scheduler(num_training_steps=4)
    t.current_gradient_accumulation_steps = 1  # set by train() otherwise
    positions = np.arange(4)
    t.set_plan(0, positions, np.array([0.5, 1.0, 2.0, 4.0], np.float32), None)
    t.selector.open_epoch(1, 1.0)
    batch = t.data_collator([t.train_dataset[i] for i in positions])
    t.training_step(t.model, batch)
    (ids, in_step, _), = t.selector.chunks
    assert ids.tolist() == positions.tolist()
    plain = {k: v for k, v in batch.items() if k != "winnow_index"}
    separate, _ = t.selector.batch_features(t.model, plain, t.optimizer)
    # The same per-sample gradients through two groupings of float32 sums
    # (the weighted batch mean vs each loss alone): relative error ~1e-6,
    # amplified near Adam's sign-like transform; 1e-3 leaves margin.
    scale = np.abs(separate).max()
    assert np.abs(in_step - separate).max() <= 1e-3 * scale
    if features == "sgd":
        # On a GPU, pool scoring takes the device first stage; here it equals
        # libwinnow's projection of the factors copied to the CPU.
        device, _ = t.selector.fx._device_features(sample_losses, (t.model, plain), {},
                                                   plain.get("attention_mask"))
        assert np.abs(device - separate).max() <= 1e-4 * scale


def test_in_step_features_projected_on_the_device_equal_the_projected_factors():
    from winnow.hf.capture import StepCapture
    from winnow.torch import FactoredFeatures
    torch.manual_seed(3)
    model = hf_tiny.tiny_llama()
    model.eval()  # no dropout: the two recorded steps see the same gradients
    fx = FactoredFeatures(model, layers="*proj", k_in=4, k_out=4)
    step = StepCapture(fx)
    items = hf_tiny.token_items(5, 9, seed=4)
    batch = {k: torch.stack([it[k] for it in items]) for k in ("input_ids", "attention_mask")}
    batch["attention_mask"][1, 6:] = 0  # padding: the mask's gather
    batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)

    def recorded(read):
        with step.recording():
            (torch.arange(1.0, 6.0) * sample_losses(model, batch)).mean().backward()
        model.zero_grad()
        return read(5, batch["attention_mask"])

    assert fx.on_accelerator is False  # a CPU model: the trainer has libwinnow project
    on_device = recorded(step.features)
    host = fx.project(recorded(step.capture))
    assert on_device.shape == host.shape == (5, fx.feature_dim)
    assert np.abs(on_device - host).max() <= 1e-4 * np.abs(host).max()
