"""Feature selection from streamed statistics, against scikit-learn's."""

import functools
import re

import numpy as np
import pytest
import sklearn.feature_selection as sk
from numpy.testing import assert_allclose, assert_array_equal

import sklearn_ooc.feature_selection as ooc
from sklearn_ooc import open_array

from .conftest import fitted_state


def _classification(seed=0, n=300, d=6, offset=0.0):
    rng = np.random.RandomState(seed)
    y = rng.randint(3, size=n)
    X = rng.normal(size=(n, d))
    X[:, 1] += 2.0 * y
    X[:, 4] -= 0.5 * y
    return X + offset, y


def _regression(seed=0, n=300, d=6, offset=0.0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    y = 3.0 * X[:, 2] - X[:, 5] + 0.5 * rng.normal(size=n)
    return X + offset, y


def _counts(seed=0, n=300, d=6):
    rng = np.random.RandomState(seed)
    y = rng.randint(3, size=n)
    X = rng.poisson(1.0 + np.outer(y == 1, np.arange(d) % 3), size=(n, d))
    return X.astype(np.float64), np.array(["a", "b", "c"])[y]


# -- the scores ---------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [7, 64, 10_000])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_scores_equal_scikit_learns(batch_size, n_jobs):
    kw = dict(batch_size=batch_size, n_jobs=n_jobs)
    X, y = _classification()
    for ours, theirs in zip(ooc.f_classif(X, y, **kw), sk.f_classif(X, y), strict=True):
        assert_allclose(ours, theirs, rtol=1e-10)
    X, y = _counts()
    for ours, theirs in zip(ooc.chi2(X, y, **kw), sk.chi2(X, y), strict=True):
        assert_allclose(ours, theirs, rtol=1e-12)
    X, y = _regression()
    for center in (True, False):
        ours = ooc.r_regression(X, y, center=center, **kw)
        assert_allclose(ours, sk.r_regression(X, y, center=center), rtol=1e-10)
        for a, b in zip(
            ooc.f_regression(X, y, center=center, **kw),
            sk.f_regression(X, y, center=center),
            strict=True,
        ):
            assert_allclose(a, b, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scores_from_a_memmap(tmp_path, dtype):
    X, y = _classification(seed=1)
    path = tmp_path / "X.npy"
    np.save(path, X.astype(dtype))
    memmap = np.load(path, mmap_mode="r")
    # The stored values, summed in float64 (scikit-learn sums float32 rows
    # in float32): its reference is taken on them upcast.
    reference = sk.f_classif(X.astype(dtype).astype(np.float64), y)
    for ours, theirs in zip(
        ooc.f_classif(memmap, y, batch_size=50), reference, strict=True
    ):
        assert_allclose(ours, theirs, rtol=1e-10)
    f, p = ooc.f_classif(str(path), y, batch_size=50)
    assert_allclose(f, reference[0], rtol=1e-10)


def test_far_from_the_origin_keeps_its_digits():
    # scikit-learn's sums of squares about the origin lose digits at 1e6:
    # its reference is taken on the rows at the origin, whose scores are the
    # same.
    X, y = _classification(seed=2)
    for ours, theirs in zip(
        ooc.f_classif(X + 1e6, y, batch_size=40), sk.f_classif(X, y), strict=True
    ):
        assert_allclose(ours, theirs, rtol=1e-8)
    X, y = _regression(seed=2)
    assert_allclose(
        ooc.r_regression(X + 1e6, y + 1e6, batch_size=40),
        sk.r_regression(X, y),
        rtol=1e-8,
    )


def test_constant_features_as_scikit_learn():
    X, y = _classification(seed=3)
    X[:, 2] = 7.0
    with pytest.warns(UserWarning, match=re.escape("Features [2] are constant.")):
        f, p = ooc.f_classif(X, y, batch_size=50)
    with pytest.warns(UserWarning, match=re.escape("Features [2] are constant.")):
        sk.f_classif(X, y)
    assert np.isnan(f[2]) and np.isnan(p[2])
    X, y = _regression(seed=3)
    X[:, 0] = 2.0
    for force_finite in (True, False):
        ours = ooc.f_regression(X, y, force_finite=force_finite, batch_size=50)
        theirs = sk.f_regression(X, y, force_finite=force_finite)
        assert_allclose(ours[0][1:], theirs[0][1:], rtol=1e-10)
        assert_array_equal(np.isfinite(ours[0]), np.isfinite(theirs[0]))


def test_chi2_names_a_negative_value():
    X, y = _counts(seed=4)
    X[123, 4] = -1.0
    expected = (
        "Input X must be non-negative: row 123 (batch 2, rows 100-149) holds "
        "-1.0 in column 4"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        ooc.chi2(X, y, batch_size=50)


# -- the selectors ------------------------------------------------------------------

SELECTORS = [
    ("SelectKBest", dict(k=2)),
    ("SelectPercentile", dict(percentile=40)),
    ("SelectFpr", dict(alpha=1e-3)),
    ("SelectFdr", dict(alpha=1e-3)),
    ("SelectFwe", dict(alpha=1e-3)),
    ("GenericUnivariateSelect", dict(mode="k_best", param=3)),
]
SCORES = [
    (sk.f_classif, _classification),
    (sk.chi2, _counts),
    (sk.f_regression, _regression),
    (functools.partial(sk.f_regression, center=False), _regression),
    (ooc.f_regression, _regression),
]


@pytest.mark.parametrize("name, params", SELECTORS)
@pytest.mark.parametrize("score_func, data", SCORES)
def test_selectors_equal_scikit_learns(name, params, score_func, data):
    X, y = data(seed=5)
    reference_func = getattr(sk, getattr(score_func, "__name__", ""), score_func)
    theirs = getattr(sk, name)(reference_func, **params).fit(X, y)
    ours = getattr(ooc, "OOC" + name)(score_func, batch_size=45, **params).fit(X, y)
    assert_allclose(ours.scores_, theirs.scores_, rtol=1e-9)
    assert_allclose(ours.pvalues_, theirs.pvalues_, rtol=1e-6, atol=1e-300)
    assert_array_equal(ours.get_support(), theirs.get_support())
    assert_array_equal(ours.transform(X), theirs.transform(X))


def test_r_regression_alone_gives_no_pvalues():
    X, y = _regression(seed=6)
    ours = ooc.OOCSelectKBest(sk.r_regression, k=2, batch_size=50).fit(X, y)
    theirs = sk.SelectKBest(sk.r_regression, k=2).fit(X, y)
    assert ours.pvalues_ is None and theirs.pvalues_ is None
    assert_array_equal(ours.get_support(), theirs.get_support())


def test_transform_streams_keeping_the_dtype(tmp_path):
    X, y = _counts(seed=7)
    path = tmp_path / "X.npy"
    np.save(path, X.astype(np.int32))
    selector = ooc.OOCSelectKBest(sk.chi2, k=2, batch_size=64)
    selector.fit(str(path), y)
    Z = selector.transform(np.load(path, mmap_mode="r"))
    assert Z.dtype == np.int32
    assert_array_equal(Z, X[:, selector.get_support()].astype(np.int32))
    lazy = selector.transform(open_array(str(path)))
    assert_array_equal(np.asarray(lazy.rows(0, len(lazy))), Z)


def test_a_score_without_a_streamed_form_reads_data_in_memory_only(tmp_path):
    X, y = _classification(seed=8)
    path = tmp_path / "X.npy"
    np.save(path, X)
    # In memory, any score function has all of the data, as in scikit-learn.
    ours = ooc.OOCSelectKBest(sk.mutual_info_classif, k=2).fit(X, y)
    theirs = sk.SelectKBest(sk.mutual_info_classif, k=2).fit(X, y)
    assert_array_equal(ours.get_support(), theirs.get_support())
    selector = ooc.OOCSelectKBest(k=2, batch_size=64).fit(str(path), y)
    selector.set_params(score_func=sk.mutual_info_classif)
    before = fitted_state(selector)
    with pytest.raises(ValueError, match="mutual_info_classif and mutual_info_reg"):
        selector.fit(str(path), y)
    assert fitted_state(selector) == before


def test_out_of_core_converts_a_selector_in_a_pipeline():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from sklearn_ooc import out_of_core

    X, y = _regression(seed=9)
    pipeline = make_pipeline(sk.SelectKBest(sk.f_regression, k=2), Ridge())
    converted = out_of_core(pipeline)
    assert type(converted[0]) is ooc.OOCSelectKBest
    assert_allclose(converted.fit(X, y).predict(X), pipeline.fit(X, y).predict(X))


# -- VarianceThreshold --------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("batch_size", [7, 10_000])
def test_variance_threshold_equals_scikit_learns(threshold, batch_size):
    rng = np.random.RandomState(10)
    X = rng.normal(size=(200, 6)) * [0.1, 1.0, 2.0, 0.7, 1.2, 0.0]
    X[:, 5] = 3.0
    X[rng.rand(200) < 0.1, 2] = np.nan
    theirs = sk.VarianceThreshold(threshold).fit(X)
    ours = ooc.OOCVarianceThreshold(threshold, batch_size=batch_size).fit(X)
    assert_allclose(ours.variances_, theirs.variances_, rtol=1e-12)
    assert_array_equal(ours.get_support(), theirs.get_support())
    assert_array_equal(ours.transform(X), theirs.transform(X))


def test_variance_threshold_far_from_the_origin():
    rng = np.random.RandomState(11)
    X = rng.normal(size=(300, 3)) * [1e-3, 1.0, 10.0]
    ours = ooc.OOCVarianceThreshold(1e-7, batch_size=32).fit(X + 1e6)
    assert_allclose(ours.variances_, np.var(X, axis=0), rtol=1e-7)
    assert_array_equal(ours.get_support(), [True, True, True])


def test_variance_threshold_refusal_leaves_the_model_unchanged():
    X = np.tile([1.0, 2.0, 3.0], (20, 1))
    model = ooc.OOCVarianceThreshold(batch_size=8).fit(np.eye(3))
    before = fitted_state(model)
    with pytest.raises(ValueError, match="No feature in X meets the variance"):
        model.fit(X)
    assert fitted_state(model) == before
    with pytest.raises(ValueError, match=r"\(X contains only one sample\)"):
        ooc.OOCVarianceThreshold().fit(X[:1])


def test_chi2_of_multilabel_targets():
    X, _ = _counts(seed=12)
    rng = np.random.RandomState(12)
    Y = (rng.rand(len(X), 3) < [0.2, 0.5, 0.7]).astype(int)
    for ours, theirs in zip(ooc.chi2(X, Y, batch_size=40), sk.chi2(X, Y), strict=True):
        assert_allclose(ours, theirs, rtol=1e-12)
