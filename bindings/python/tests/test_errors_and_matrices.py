"""Library statuses as exception classes that are also the builtin they
mean, and `factor_matrix`: the factored projector's own matrices, for a first
stage on another device."""

import pickle

import numpy as np
import pytest

import winnow
from winnow import _errors
from winnow.factored import factor_matrix


def test_every_status_class_is_also_its_builtin():
    builtins = {-1: ValueError, -2: ValueError, -3: ValueError, -4: OSError, -5: ValueError,
                -6: MemoryError, -7: RuntimeError, -8: NotImplementedError,
                -9: ArithmeticError, -10: ValueError, -11: ValueError, -99: RuntimeError}
    assert set(_errors.CLASSES) == set(builtins)
    for status, builtin in builtins.items():
        error = _errors.CLASSES[status](status, "why")
        assert isinstance(error, winnow.WinnowError) and isinstance(error, builtin)
        assert str(error).startswith("why [") and error.status == status
        again = pickle.loads(pickle.dumps(error))  # Ray and multiprocessing carry errors
        assert type(again) is type(error) and again.status == status and str(again) == str(error)


def test_the_same_mistake_raises_the_same_class_from_the_binding_and_the_library():
    p = winnow.FactoredProjector([(1, 4, 3, 2, 2)])
    a, d = np.ones((5, 4), np.float32), np.ones((5, 3), np.float32)
    with pytest.raises(winnow.ShapeError):  # found by the binding: D has too few rows
        p.project([5], [(a, d[:4])])
    with pytest.raises(winnow.ShapeError):  # found by the library: counts sum to 4, not 5
        p.project([2, 2], [(a, d)])
    with pytest.raises(ValueError):
        winnow.FactoredProjector([(1, 4, 3, 0, 2)])  # InvalidArgumentError


@pytest.mark.parametrize("kind", ["rademacher", "gaussian"])
def test_factor_matrices_reproduce_the_projectors_features(kind):
    layers = [(11, 9, 7, 3, 4), (2**62 + 5, 5, 6, 2, 2)]
    p = winnow.FactoredProjector(layers, seed=8, kind=kind)
    rng = np.random.default_rng(0)
    counts = [4, 0, 3]
    factors = [(rng.standard_normal((7, d_in)).astype(np.float32),
                rng.standard_normal((7, d_out)).astype(np.float32))
               for _, d_in, d_out, _, _ in layers]
    got = p.project(counts, factors)
    for l, ((a, d), (layer_id, d_in, d_out, k_in, k_out)) in enumerate(zip(factors, layers)):
        p_in = factor_matrix(layer_id, "input", d_in, k_in, seed=8, kind=kind)
        p_out = factor_matrix(layer_id, "output", d_out, k_out, seed=8, kind=kind)
        assert np.array_equal(p_in, p.factor_matrices(l)[0])
        if kind == "rademacher":
            assert np.allclose(np.abs(p_in), 1 / np.sqrt(k_in))
        rows = np.repeat(np.arange(3), counts)
        for s in range(3):
            a_s, d_s = a[rows == s].astype(np.float64), d[rows == s].astype(np.float64)
            expected = ((d_s @ p_out).T @ (a_s @ p_in)).reshape(-1)
            block = got[s, p.offsets[l]:p.offsets[l] + k_in * k_out]
            assert np.linalg.norm(block - expected) <= 1e-5 * max(np.linalg.norm(expected), 1)


def test_factor_matrix_arguments_are_checked():
    for bad in [dict(side="middle"), dict(kind="sparse"), dict(rows=0)]:
        args = dict(layer_id=1, side="input", rows=3, cols=2, seed=0, kind="rademacher")
        args.update(bad)
        with pytest.raises(ValueError):
            factor_matrix(**args)
    other = factor_matrix(1, "input", 3, 2, seed=1)
    assert not np.array_equal(other, factor_matrix(1, "input", 3, 2, seed=0))
    assert not np.array_equal(factor_matrix(1, "output", 3, 2), factor_matrix(1, "input", 3, 2))
