"""BLAS's syrk and LAPACK's tpqrt called with the GIL released: sums and
factors, layouts, refusals."""

import threading

import numpy as np
import pytest

from sklearn_ooc._blas import (
    QR_CHUNK_ROWS,
    qr_update,
    symmetric_from_upper,
    syrk_update,
)


def _lower_marked(d):
    """An F-ordered zero gram whose strict lower triangle holds -7."""
    gram = np.zeros((d, d), order="F")
    gram[np.tril_indices(d, -1)] = -7.0
    return gram


@pytest.mark.parametrize("k", [0, 1, 2, 13, 300])
@pytest.mark.parametrize("d", [1, 2, 9])
def test_adds_the_upper_triangle_of_the_product_and_leaves_the_lower(k, d):
    rng = np.random.default_rng(k * 10 + d)
    first, second = rng.normal(size=(k, d)), rng.normal(size=(k, d))
    gram = _lower_marked(d)
    syrk_update(gram, first)
    syrk_update(gram, second)
    expected = first.T @ first + second.T @ second
    upper = np.triu_indices(d)
    np.testing.assert_allclose(gram[upper], expected[upper], rtol=1e-13, atol=1e-13)
    assert np.all(gram[np.tril_indices(d, -1)] == -7.0)
    np.testing.assert_allclose(
        symmetric_from_upper(gram), expected, rtol=1e-13, atol=1e-13
    )


def test_rows_that_are_views_of_wider_rows_are_read_in_place():
    wide = np.random.default_rng(0).normal(size=(50, 12))
    rows = wide[5:40, 3:8]
    gram = np.zeros((5, 5), order="F")
    syrk_update(gram, rows)
    np.testing.assert_allclose(
        symmetric_from_upper(gram), rows.T @ rows, rtol=1e-13, atol=1e-13
    )


def test_a_single_row_whatever_its_stride():
    row = np.arange(6.0).reshape(3, 2)[1:2]
    gram = np.zeros((2, 2), order="F")
    syrk_update(gram, row[:, ::1])
    np.testing.assert_array_equal(symmetric_from_upper(gram), [[4.0, 6.0], [6.0, 9.0]])


def test_the_transpose_of_a_c_ordered_block_accumulates_its_lower_triangle():
    # A slice of a C-ordered stack, summed through its F-ordered transpose.
    rows = np.random.default_rng(1).normal(size=(20, 4))
    stacked = np.zeros((2, 4, 4))
    syrk_update(stacked[1].T, rows)
    assert np.all(stacked[0] == 0) and np.all(np.triu(stacked[1], 1) == 0)
    np.testing.assert_allclose(
        symmetric_from_upper(stacked[1].T), rows.T @ rows, rtol=1e-13
    )


def _bad_calls():
    rows = np.ones((4, 3))
    readonly = np.zeros((3, 3), order="F")
    readonly.flags.writeable = False
    return {
        "gram C-ordered": (np.zeros((3, 3)), rows),
        "gram float32": (np.zeros((3, 3), dtype=np.float32, order="F"), rows),
        "gram of another size": (np.zeros((4, 4), order="F"), rows),
        "gram read-only": (readonly, rows),
        "rows float32": (np.zeros((3, 3), order="F"), rows.astype(np.float32)),
        "rows strided by column": (
            np.zeros((3, 3), order="F"),
            np.ones((4, 6))[:, ::2],
        ),
        "rows F-ordered": (np.zeros((3, 3), order="F"), np.asfortranarray(rows)),
        "rows upwards": (np.zeros((3, 3), order="F"), rows[::-1]),
    }


@pytest.mark.parametrize("case", list(_bad_calls()))
def test_bad_layouts_are_refused_and_the_gram_is_unchanged(case):
    gram, rows = _bad_calls()[case]
    if gram.flags.writeable:
        gram[...] = 5.0
    before = gram.copy()
    with pytest.raises(ValueError, match="syrk_update takes a float64 F-ordered"):
        syrk_update(gram, rows)
    np.testing.assert_array_equal(gram, before)


@pytest.mark.parametrize(
    ("update", "shape", "repeats"),
    [(syrk_update, (257, 30), 20), (qr_update, (3000, 20), 5)],
    ids=["syrk_update", "qr_update"],
)
def test_threads_updating_their_own_outputs_get_the_serial_bits(update, shape, repeats):
    rng = np.random.default_rng(2)
    blocks = [rng.normal(size=shape) for _ in range(8)]
    d = shape[1]

    def run(out, block):
        for _ in range(repeats):
            update(out, block)

    serial = [np.zeros((d, d), order="F") for _ in blocks]
    for out, block in zip(serial, blocks, strict=True):
        run(out, block)
    threaded = [np.zeros((d, d), order="F") for _ in blocks]
    threads = [
        threading.Thread(target=run, args=(out, block))
        for out, block in zip(threaded, blocks, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, expected in zip(threaded, serial, strict=True):
        np.testing.assert_array_equal(got, expected)


# -- qr_update ------------------------------------------------------------------


def _signed(factor):
    """``factor`` with its rows signed so that its diagonal is non-negative
    (a QR factor is unique up to those signs)."""
    signs = np.sign(np.diagonal(factor)).copy()
    signs[signs == 0] = 1.0
    return factor * signs[:, None]


@pytest.mark.parametrize(
    "k", [0, 1, 5, QR_CHUNK_ROWS - 1, QR_CHUNK_ROWS, QR_CHUNK_ROWS + 1, 2500]
)
@pytest.mark.parametrize("d", [1, 3, 9])
def test_the_factor_of_the_factor_over_the_rows_and_the_lower_triangle_kept(k, d):
    rng = np.random.default_rng(100 * k + d)
    top = np.triu(rng.normal(size=(d, d)))
    rows = rng.normal(size=(k, d)) * np.geomspace(1e-3, 1e3, d)
    factor = np.array(top, order="F")
    factor[np.tril_indices(d, -1)] = -7.0
    copy = rows.copy()
    qr_update(factor, rows)
    assert np.all(factor[np.tril_indices(d, -1)] == -7.0)
    np.testing.assert_array_equal(rows, copy)
    stacked = np.vstack([top, rows])
    expected = _signed(np.linalg.qr(stacked, mode="r"))
    got = _signed(np.triu(factor))
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(
        got.T @ got, stacked.T @ stacked, rtol=0, atol=1e-12 * scale**2
    )


def test_rows_factored_in_place_give_the_bits_of_the_copied_rows():
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(700, 6))
    copied = np.zeros((6, 6), order="F")
    qr_update(copied, rows)
    # A chunk of a larger column-major buffer, as a caller builds it.
    buffer = np.empty((6, 1000)).T
    chunk = buffer[:700]
    chunk[:] = rows
    in_place = np.zeros((6, 6), order="F")
    qr_update(in_place, chunk, overwrite_rows=True)
    np.testing.assert_array_equal(in_place, copied)


def _bad_qr_calls():
    rows = np.ones((4, 3))
    readonly = np.zeros((3, 3), order="F")
    readonly.flags.writeable = False
    frozen = np.asfortranarray(rows)
    frozen.flags.writeable = False
    return {
        "factor C-ordered": (np.zeros((3, 3)), rows, False),
        "factor float32": (np.zeros((3, 3), dtype=np.float32, order="F"), rows, False),
        "factor of another size": (np.zeros((4, 4), order="F"), rows, False),
        "factor read-only": (readonly, rows, False),
        "rows float32": (np.zeros((3, 3), order="F"), rows.astype(np.float32), False),
        "rows of one dimension": (np.zeros((3, 3), order="F"), np.ones(3), False),
        "rows C-ordered, overwritten": (np.zeros((3, 3), order="F"), rows, True),
        "rows read-only, overwritten": (np.zeros((3, 3), order="F"), frozen, True),
        "rows strided, overwritten": (
            np.zeros((3, 3), order="F"),
            np.asfortranarray(np.ones((8, 3)))[::2],
            True,
        ),
    }


@pytest.mark.parametrize("case", list(_bad_qr_calls()))
def test_bad_factors_and_rows_are_refused_and_the_factor_is_unchanged(case):
    factor, rows, overwrite = _bad_qr_calls()[case]
    if factor.flags.writeable:
        factor[...] = 5.0
    before = factor.copy()
    with pytest.raises(ValueError, match="qr_update takes a float64 F-ordered"):
        qr_update(factor, rows, overwrite_rows=overwrite)
    np.testing.assert_array_equal(factor, before)
