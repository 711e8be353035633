"""The binding's contract: every C symbol declared, errors raised with the
library's status and message, arrays passed without copies, and results
equal to what the C library computes."""

import ctypes
import re
import time
from pathlib import Path

import numpy as np
import pytest

import winnow
from winnow import _lib

HEADER = Path(__file__).resolve().parents[3] / "Sources" / "WinnowC" / "include" / "winnow.h"


def test_version_is_the_library_version():
    text = HEADER.read_text()
    macro = re.search(r'#define WN_VERSION_STRING "([^"]+)"', text).group(1)
    assert winnow.version() == macro
    assert winnow.abi_version() == int(re.search(r"#define WN_ABI_VERSION (\d+)", text).group(1))


def test_every_header_function_has_argtypes_and_restype():
    text = HEADER.read_text()
    declared = set(re.findall(r"\b(wn_[a-z0-9_]+)\(", text))
    assert declared == set(_lib.SIGNATURES)
    returns = {"int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32, "void": None,
               "const char *": ctypes.c_char_p}
    found = re.findall(r"^(int32_t|uint32_t|void|const char \*)\s*(wn_[a-z0-9_]+)\(", text, re.M)
    assert {name for _, name in found} == declared
    for kind, name in found:
        function = getattr(_lib.lib, name)
        assert function.restype is returns[kind], name
        assert function.argtypes is not None, name
        # Arguments: one per comma-separated parameter of the declaration.
        params = re.search(r"^" + re.escape(kind) + r"\s*" + name + r"\(([^)]*)\)", text,
                           re.M).group(1).strip()
        count = 0 if params == "void" else params.count(",") + 1
        assert len(function.argtypes) == count, name


def test_errors_carry_status_and_message():
    with pytest.raises(winnow.WinnowError) as info:
        winnow.select_top_k(np.array([1.0, np.nan], np.float32), 1)
    assert info.value.status == -3 and info.value.name == "non-finite value"
    assert "score 1" in info.value.message
    engine = winnow.Engine(np.arange(5), feature_dim=4)
    with pytest.raises(winnow.WinnowError) as info:
        engine.add_target(0, np.ones((1, 4), np.float32))
    assert info.value.status == -7 and "beginEpoch" in info.value.message
    with pytest.raises(winnow.WinnowError) as info:
        engine.set_param("temperature", float("nan"))
    assert info.value.status == -1
    with pytest.raises(winnow.WinnowError):
        winnow.Engine(np.array([1, 1]), feature_dim=4)
    with pytest.raises(winnow.WinnowError):
        winnow.Projector(0, 4)


def test_contiguous_float32_is_not_copied(monkeypatch):
    from winnow import _arrays

    x = np.ones((3, 8), np.float32)
    assert _arrays.contiguous(x, np.float32, "x") is x
    strided = np.ones((3, 16), np.float32)[:, ::2]
    assert _arrays.contiguous(strided, np.float32, "x") is not strided
    doubles = np.ones((3, 8))
    assert _arrays.contiguous(doubles, np.float32, "x").dtype == np.float32


def test_projection_matches_across_pieces_dtypes_and_layouts():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((5, 300)).astype(np.float32)
    with winnow.Projector(300, 48, seed=4, memory_budget=48 * 4 * 100) as p:
        whole = p.project(g)
        out = p.project(g[:, :120])
        p.project(g[:, 120:], offset=120, out=out, accumulate=True)
        np.testing.assert_allclose(out, whole, atol=1e-4)
        np.testing.assert_allclose(p.project(np.asfortranarray(g)), whole, atol=1e-6)
        np.testing.assert_allclose(p.project(g.astype(np.float16)),
                                   p.project(g.astype(np.float16).astype(np.float32)), atol=1e-5)
        # JL: inner products are preserved on average.
        assert abs(np.mean(np.sum(whole**2, 1) / np.sum(g**2, 1)) - 1) < 0.3


def test_selection_functions():
    s = np.array([0.5, 2.0, 0.5, -1.0, 2.0, 0.1], np.float32)
    assert winnow.select_top_k(s, 3).tolist() == [1, 4, 0]
    assert winnow.select_top_fraction(s, 0.5).tolist() == [1, 4, 0]
    assert winnow.select_threshold(s, 0.5).tolist() == [1, 4, 0, 2]
    assert winnow.select_threshold(s, 9).tolist() == []


def test_step_mode_and_engine_agree():
    rng = np.random.default_rng(1)
    f = rng.standard_normal((32, 16)).astype(np.float32)
    t = rng.standard_normal(16).astype(np.float32)
    free = winnow.select_step(f, t, 8, 0.05)
    engine = winnow.Engine(np.arange(10), feature_dim=16)
    bound = engine.select_step(f, t, 8, 0.05)
    assert free.indices.tolist() == bound.indices.tolist()
    assert len(set(free.indices.tolist())) == 8
    assert free.indices[0] == int(np.argmax(f @ t))


def test_stochastic_plans_are_seeded_and_report_probabilities(tmp_path):
    rng = np.random.default_rng(2)
    feats = rng.standard_normal((200, 8)).astype(np.float32)
    target = rng.standard_normal((3, 8)).astype(np.float32)

    def run():
        e = winnow.Engine(np.arange(200) * 3, np.arange(200) % 4, feature_dim=8,
                          policy="stochastic", select_fraction=0.2, seed=2**63 + 5)
        e.set_audit_log(tmp_path / "audit.jsonl")
        e.begin_epoch(0)
        e.add_target(0, target)
        e.add_candidates(np.arange(200) * 3, feats)
        return e, e.end_epoch()

    (e1, p1), (_, p2) = run(), run()
    assert np.array_equal(p1.ids, p2.ids) and np.array_equal(p1.weights, p2.weights)
    assert p1.kind == "planned" and p1.policy == "stochastic"
    assert abs(e1.pool_probabilities().sum() - len(p1.ids)) < 1e-6
    # Unbiased (Horvitz-Thompson) weights by default: w = n / (N * pi).
    np.testing.assert_allclose(p1.weights, len(p1.ids) / (200 * p1.probabilities), rtol=1e-5)
    assert len((tmp_path / "audit.jsonl").read_text().splitlines()) == 2
    assert e1.get_param("select_fraction") == 0.2
    assert winnow.param_bounds("select_fraction") == (0.0, 1.0, False, True)


def test_python_to_c_call_overhead():
    """Reports the cost of one call through ctypes (printed with -s)."""
    calls = 100_000
    f = _lib.lib.wn_abi_version
    start = time.perf_counter()
    for _ in range(calls):
        f()
    bare = (time.perf_counter() - start) / calls
    s = np.arange(16, dtype=np.float32)
    start = time.perf_counter()
    for _ in range(calls // 10):
        winnow.select_top_k(s, 4)
    select = (time.perf_counter() - start) / (calls // 10)
    print(f"\nPython -> C: wn_abi_version {bare * 1e9:.0f} ns/call; "
          f"winnow.select_top_k(16 scores, k=4) {select * 1e6:.1f} us/call")
    assert bare < 20e-6
