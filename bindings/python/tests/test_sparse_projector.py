"""The sparse JL projector (SJLT / CountSketch) through the binding: the map
read back as a matrix, pieces, half precision, thread sharing, and errors."""

import threading

import numpy as np
import pytest

import winnow

D, K = 700, 48


def map_matrix(p):
    """The D x k matrix of the map, read by projecting the basis vectors."""
    return p.project(np.eye(p.input_dim, dtype=np.float32))


@pytest.mark.parametrize("nnz", [1, 3])
def test_each_coordinate_has_nnz_entries_of_one_over_root_nnz(nnz):
    m = map_matrix(winnow.SparseProjector(D, K, nnz=nnz, seed=4))
    nonzero = m != 0
    assert (nonzero.sum(axis=1) == nnz).all()
    assert np.allclose(np.abs(m[nonzero]), 1 / np.sqrt(nnz), rtol=0, atol=1e-7)
    # Signs are balanced: binomial(D*nnz, 1/2) within 4 sigma.
    n = D * nnz
    assert abs((m > 0).sum() - n / 2) < 4 * np.sqrt(n / 4)


def test_projection_is_the_product_with_the_map_and_pieces_sum_to_it():
    p = winnow.SparseProjector(D, K, nnz=2, seed=1)
    x = np.random.default_rng(0).standard_normal((5, D)).astype(np.float32)
    whole = p.project(x)
    expected = x.astype(np.float64) @ map_matrix(p).astype(np.float64)
    assert np.abs(whole - expected).max() < 1e-4 * np.abs(expected).max()
    out = np.zeros_like(whole)
    for start, stop in [(0, 100), (100, 450), (450, D)]:
        p.project(x[:, start:stop], offset=start, out=out, accumulate=start > 0)
    assert np.abs(out - whole).max() < 1e-4 * np.abs(whole).max()


def test_half_input_gives_the_features_of_its_float_values_bit_for_bit():
    p = winnow.SparseProjector(D, K, nnz=2, seed=8)
    x = np.round(np.random.default_rng(1).standard_normal((3, D)) * 64) / 64
    half = x.astype(np.float16)
    assert np.array_equal(p.project(half), p.project(half.astype(np.float32)))


def test_rows_do_not_depend_on_their_batch_or_on_concurrent_callers():
    p = winnow.SparseProjector(D, K, nnz=1, seed=2)
    x = np.random.default_rng(2).standard_normal((20, D)).astype(np.float32)
    whole = p.project(x)
    parts = np.concatenate([p.project(x[i:i + 3]) for i in range(0, 20, 3)])
    assert np.array_equal(parts, whole)
    results = [None] * 4

    def run(i):
        results[i] = p.project(x)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(r, whole) for r in results)


def test_bad_arguments_raise_with_the_library_message():
    with pytest.raises(winnow.WinnowError, match="nonzeros"):
        winnow.SparseProjector(D, K, nnz=0)
    with pytest.raises(winnow.WinnowError, match="nonzeros"):
        winnow.SparseProjector(D, K, nnz=K + 1)
    p = winnow.SparseProjector(D, K)
    with pytest.raises(winnow.WinnowError, match="does not fit"):
        p.project(np.ones((1, 10), np.float32), offset=D - 5)
    bad = np.ones((2, D), np.float32)
    bad[1, 3] = np.nan
    with pytest.raises(winnow.WinnowError, match="row 1"):
        p.project(bad)
