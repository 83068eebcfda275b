"""The tiled Cholesky factorization, in memory and on a memory map."""

import os

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sklearn_ooc._linalg import (
    PanelFile,
    cho_solve_panels,
    cho_solve_tiled,
    cholesky_panels,
    cholesky_tiled,
    tile_size,
)


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


@pytest.mark.parametrize("n, tile, block", [(100, 32, 7), (64, 64, 64), (50, 8, 50)])
def test_a_panel_file_factors_and_solves_on_disk(rng, tmp_path, n, tile, block):
    A = _spd(rng, n)
    path = str(tmp_path / "factor")
    with PanelFile(path, n, tile) as panels:
        # About half the matrix, written from row blocks of any size.
        assert panels.nbytes == 8 * sum(
            (n - k0) * (min(n, k0 + tile) - k0) for k0 in range(0, n, tile)
        )
        for start in range(0, n, block):
            panels.write_rows(start, A[start : start + block])
        cholesky_panels(panels)
        L = np.zeros_like(A)
        for k, k0 in enumerate(panels.starts):
            k1 = min(n, k0 + tile)
            L[k0:, k0:k1] = panels.read(k, k0)
        b = rng.normal(size=(n, 2))
        x = cho_solve_panels(panels, b)
    assert_allclose(np.tril(L), np.linalg.cholesky(A), rtol=1e-12, atol=1e-13)
    assert_allclose(x, np.linalg.solve(A, b), rtol=1e-10)
    assert os.path.getsize(path) == panels.nbytes


def test_a_panel_file_is_never_an_existing_file(tmp_path):
    path = tmp_path / "factor"
    path.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        PanelFile(str(path), 10, 4)
    assert path.read_bytes() == b"mine"


def test_not_positive_definite_raises(rng):
    A = _spd(rng, 40)
    A[30, 30] = -1.0
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        cholesky_tiled(A, 16)


def test_progress_reports_every_panel(rng):
    seen = []
    cholesky_tiled(_spd(rng, 50), 20, on_panel=lambda done, n: seen.append((done, n)))
    assert seen == [(20, 50), (40, 50), (50, 50)]


def test_tile_size_keeps_to_the_budget():
    assert tile_size(10_000, 16 * 10_000 * 500) == 500
    assert tile_size(10_000, 0) == 128
    assert tile_size(10_000, 1e12) == 2048
    assert tile_size(50, 1e12) == 50
