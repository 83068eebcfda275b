"""The tiled Cholesky factorization, in memory and on a memory map."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sklearn_ooc._linalg import cho_solve_tiled, cholesky_tiled, tile_size


def _spd(rng, n):
    M = rng.normal(size=(n, n))
    return M @ M.T / n + np.eye(n)


@pytest.mark.parametrize(
    "n, tile", [(1, 1), (5, 1), (7, 3), (64, 64), (130, 32), (97, 200)]
)
def test_factor_and_solve_equal_lapack(rng, n, tile):
    A = _spd(rng, n)
    L = A.copy()
    cholesky_tiled(L, tile)
    assert_allclose(np.tril(L), np.linalg.cholesky(A), rtol=1e-12, atol=1e-13)
    b = rng.normal(size=(n, 3))
    assert_allclose(cho_solve_tiled(L, b, tile), np.linalg.solve(A, b), rtol=1e-10)
    assert cho_solve_tiled(L, b[:, 0], tile).shape == (n,)


def test_only_the_lower_triangle_is_read_and_written(rng):
    A = _spd(rng, 50)
    L = np.tril(A) + np.triu(np.full((50, 50), np.nan), 1)
    cholesky_tiled(L, 16)
    assert_allclose(np.tril(L), np.linalg.cholesky(A), rtol=1e-12, atol=1e-13)
    # Above the diagonal tiles nothing was touched.
    assert np.isnan(L[0, 16:]).all()


def test_a_memory_map_is_factored_in_its_file(rng, tmp_path):
    A = _spd(rng, 100)
    path = tmp_path / "A.npy"
    np.save(path, A)
    mapped = np.load(path, mmap_mode="r+")
    cholesky_tiled(mapped, 32)
    mapped.flush()
    del mapped
    L = np.load(path)
    assert_allclose(np.tril(L), np.linalg.cholesky(A), rtol=1e-12, atol=1e-13)


def test_not_positive_definite_raises(rng):
    A = _spd(rng, 40)
    A[30, 30] = -1.0
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        cholesky_tiled(A, 16)


def test_progress_reports_every_panel(rng):
    seen = []
    cholesky_tiled(_spd(rng, 50), 20, on_tile=lambda done, n: seen.append((done, n)))
    assert seen == [(20, 50), (40, 50), (50, 50)]


def test_tile_size_keeps_to_the_budget():
    assert tile_size(10_000, 16 * 10_000 * 500) == 500
    assert tile_size(10_000, 0) == 128
    assert tile_size(10_000, 1e12) == 2048
    assert tile_size(50, 1e12) == 50
