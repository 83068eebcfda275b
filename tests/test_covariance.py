"""Streamed covariance estimators equal scikit-learn's fitted in memory."""

import numpy as np
import pytest
from sklearn.covariance import (
    OAS,
    EmpiricalCovariance,
    GraphicalLasso,
    LedoitWolf,
    ShrunkCovariance,
)

from sklearn_ooc import open_table, out_of_core
from sklearn_ooc.covariance import (
    OOCOAS,
    OOCEmpiricalCovariance,
    OOCGraphicalLasso,
    OOCLedoitWolf,
    OOCShrunkCovariance,
)

PAIRS = [
    (OOCEmpiricalCovariance, EmpiricalCovariance, {}),
    (OOCShrunkCovariance, ShrunkCovariance, {"shrinkage": 0.3}),
    (OOCOAS, OAS, {}),
    (OOCLedoitWolf, LedoitWolf, {"block_size": 2}),
    (OOCGraphicalLasso, GraphicalLasso, {"alpha": 0.2}),
    (OOCGraphicalLasso, GraphicalLasso, {"alpha": 0.2, "mode": "lars"}),
]
IDS = [f"{p[0].__name__}-{i}" for i, p in enumerate(PAIRS)]
PARTIAL = [p for p in PAIRS if hasattr(p[0], "partial_fit")]


def _data(dtype=np.float64, offset=0.0, n=157, d=4, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + offset
    T = rng.normal(size=(40, d)) @ rng.normal(size=(d, d)) + offset
    return X.astype(dtype), T.astype(dtype)


def _close(a, b, rtol):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.abs(b).max(), 1e-300)
    assert np.abs(a - b).max() <= rtol * scale


def _assert_same(ours, ref, X_test, rtol=1e-12, offset=0.0):
    ref_test = np.load(X_test) if isinstance(X_test, str) else X_test
    for attr in ("covariance_", "precision_"):
        _close(getattr(ours, attr), getattr(ref, attr), rtol)
    _close(ours.location_, np.asarray(ref.location_) + offset, rtol)
    for attr in ("shrinkage_", "n_iter_"):
        if hasattr(ref, attr):
            _close(getattr(ours, attr), getattr(ref, attr), rtol)
    _close(ours.score(X_test), ref.score(ref_test - offset), rtol)
    _close(ours.mahalanobis(X_test), ref.mahalanobis(ref_test - offset), rtol * 10)
    _close(ours.get_precision(), ref.get_precision(), rtol)
    assert (
        ours.error_norm(ref.covariance_) <= (rtol * np.abs(ref.covariance_).max()) ** 2
    )


@pytest.mark.parametrize("ours, theirs, params", PAIRS, ids=IDS)
@pytest.mark.parametrize("assume_centered", [False, True])
@pytest.mark.parametrize("batch_size", [1, 16, 1000])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_equals_sklearn(ours, theirs, params, assume_centered, batch_size, n_jobs):
    X, T = _data()
    kw = dict(params, assume_centered=assume_centered)
    ref = theirs(**kw).fit(X)
    model = ours(**kw, batch_size=batch_size, n_jobs=n_jobs).fit(X)
    rtol = 1e-9 if theirs is GraphicalLasso else 1e-12
    _assert_same(model, ref, T, rtol=rtol)


@pytest.mark.parametrize("ours, theirs, params", PAIRS, ids=IDS)
def test_float32(ours, theirs, params):
    X, T = _data(np.float32)
    ref = theirs(**params).fit(X.astype(np.float64))
    model = ours(**params, batch_size=20).fit(X)
    rtol = 1e-7 if theirs is GraphicalLasso else 1e-9
    _assert_same(model, ref, T.astype(np.float64), rtol=rtol)


@pytest.mark.parametrize("ours, theirs, params", PAIRS, ids=IDS)
def test_offset_data(ours, theirs, params):
    # scikit-learn's own covariance loses digits at 1e6: compare with it on
    # the centered data (the same rows, moved).
    offset = 1e6
    X0, T0 = _data()
    ref = theirs(**params).fit(X0)
    model = ours(**params, batch_size=13).fit(X0 + offset)
    rtol = 1e-7 if theirs is GraphicalLasso else 1e-9
    _assert_same(model, ref, T0 + offset, rtol=rtol, offset=offset)


@pytest.mark.parametrize("ours, theirs, params", PAIRS, ids=IDS)
def test_sources(ours, theirs, params, tmp_path):
    pd = pytest.importorskip("pandas")
    X, T = _data()
    ref = theirs(**params).fit(X)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "t.npy", T)
    model = ours(**params, batch_size=30).fit(str(tmp_path / "x.npy"))
    _assert_same(model, ref, str(tmp_path / "t.npy"))
    pd.DataFrame(X, columns=list("abcd")).to_parquet(
        tmp_path / "x.parquet", row_group_size=50
    )
    table = open_table(tmp_path / "x.parquet")
    model = ours(**params, batch_size=30).fit(table)
    _close(model.covariance_, ref.covariance_, 1e-12)
    assert list(model.feature_names_in_) == list("abcd")


@pytest.mark.parametrize("ours, theirs, params", PARTIAL, ids=lambda p: str(p))
def test_partial_fit_exact(ours, theirs, params):
    X, T = _data(offset=50.0)
    ref = theirs(**params).fit(X)
    model = ours(**params, batch_size=7)
    for part in np.array_split(np.arange(len(X)), 5):
        model.partial_fit(X[part])
    _assert_same(model, ref, T, rtol=1e-9 if theirs is GraphicalLasso else 1e-11)


def test_ledoit_wolf_has_no_partial_fit():
    # Its shrinkage needs the fourth moments about the final mean: two passes.
    assert not hasattr(OOCLedoitWolf(), "partial_fit")


@pytest.mark.parametrize("ours, theirs, params", PAIRS, ids=IDS)
def test_store_precision_false(ours, theirs, params):
    if ours is OOCGraphicalLasso:
        pytest.skip("GraphicalLasso has no store_precision")
    X, T = _data()
    model = ours(**params, store_precision=False, batch_size=9).fit(X)
    ref = theirs(**params, store_precision=False).fit(X)
    assert model.precision_ is None
    _close(model.get_precision(), ref.get_precision(), 1e-12)
    _close(model.score(T), ref.score(T), 1e-12)


def test_graphical_lasso_precomputed():
    X, _ = _data()
    C = np.cov(X.T, bias=True)
    ref = GraphicalLasso(covariance="precomputed").fit(C)
    model = OOCGraphicalLasso(covariance="precomputed").fit(C)
    _close(model.precision_, ref.precision_, 1e-13)
    assert model.costs_ == ref.costs_


@pytest.mark.parametrize("ours, theirs, params", PAIRS, ids=IDS)
def test_bad_input_leaves_estimator_unchanged(ours, theirs, params):
    X, _ = _data()
    model = ours(**params, batch_size=10).fit(X)
    before = model.covariance_.copy()
    bad = X.copy()
    bad[42, 1] = np.nan
    with pytest.raises(ValueError, match="42"):
        model.fit(bad)
    np.testing.assert_array_equal(model.covariance_, before)


def test_graphical_lasso_one_row_and_one_feature():
    X, _ = _data()
    model = OOCGraphicalLasso().fit(X)
    before = model.covariance_.copy()
    with pytest.raises(ValueError, match="1 sample"):
        model.fit(X[:1])
    with pytest.raises(ValueError, match="1 feature"):
        model.fit(X[:, :1])
    np.testing.assert_array_equal(model.covariance_, before)


@pytest.mark.parametrize("ours, theirs, params", PAIRS[:4], ids=IDS[:4])
def test_one_row_and_one_feature_as_sklearn(ours, theirs, params):
    X, _ = _data()
    with pytest.warns(UserWarning, match="Only one sample"):
        model = ours(**params).fit(X[:1])
    with pytest.warns(UserWarning, match="Only one sample"):
        ref = theirs(**params).fit(X[:1])
    _close(model.covariance_, ref.covariance_, 1e-12)
    model = ours(**params).fit(X[:, :1])
    ref = theirs(**params).fit(X[:, :1])
    _close(model.covariance_, ref.covariance_, 1e-12)


@pytest.mark.parametrize("ours, theirs, params", PAIRS, ids=IDS)
def test_out_of_core_converts(ours, theirs, params):
    assert isinstance(out_of_core(theirs(**params)), ours)
