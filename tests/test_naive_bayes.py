"""The five naive Bayes classifiers against scikit-learn's, out of core.

tests/test_nb.py holds the first comparisons (and pomegranate's
BayesClassifier); this module covers the contract across the five classes:
every batch size, ``n_jobs``, float32 and float64, weights, data far from
the origin, every source kind for fit and for each prediction method,
``batches_per_epoch``, ``partial_fit`` over chunks, and bad input.
"""

import pickle
import re

import numpy as np
import pytest
import sklearn.naive_bayes as sk
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import sklearn_ooc.naive_bayes as ooc
from sklearn_ooc import out_of_core
from sklearn_ooc.data import LazyArray

from .conftest import fitted_state

NAMES = ["GaussianNB", "MultinomialNB", "ComplementNB", "BernoulliNB", "CategoricalNB"]
DISCRETE = ["MultinomialNB", "ComplementNB", "BernoulliNB", "CategoricalNB"]
PREDICTIONS = [
    "predict",
    "predict_proba",
    "predict_log_proba",
    "predict_joint_log_proba",
]


def _data(name, seed=0, n=120, dtype=np.float64):
    """Rows the model of ``name`` reads: Gaussian features, counts, or
    category codes; three string classes of unequal sizes."""
    rng = np.random.RandomState(seed)
    y = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    if name == "GaussianNB":
        X = rng.normal(size=(n, 4)) * [1.0, 0.5, 2.0, 0.1] + 1.5 * y[:, None]
    elif name == "CategoricalNB":
        X = (rng.randint(4, size=(n, 4)) + y[:, None]) % np.array([3, 5, 6, 7])
    else:
        X = rng.poisson(1.0 + np.outer(y, np.arange(5) % 3)).astype(np.float64)
    return X.astype(dtype), np.array(["ham", "eggs", "spam"])[y]


def _weights(n, seed=1):
    rng = np.random.RandomState(seed)
    return rng.uniform(0.1, 3.0, n) * (rng.random_sample(n) > 0.1)


def _pair(name, **params):
    return getattr(sk, name)(**params), getattr(ooc, "OOC" + name)(**params)


def _attributes(model):
    """The public fitted attributes, arrays of a list kept as a list."""
    return {
        k: v
        for k, v in vars(model).items()
        if k.endswith("_") and not k.startswith("_")
    }


def _assert_same_model(ours, ref, rtol, exact_dtype=True):
    a, d = _attributes(ours), _attributes(ref)
    assert sorted(a) == sorted(d)
    for name, expected in d.items():
        actual = a[name]
        if isinstance(expected, list):
            assert len(actual) == len(expected)
            for x, e in zip(actual, expected, strict=True):
                assert_allclose(x, e, rtol=rtol, atol=0, err_msg=name)
            continue
        if exact_dtype:
            assert np.asarray(actual).dtype == np.asarray(expected).dtype, name
        if np.asarray(expected).dtype.kind in "fc":
            assert_allclose(actual, expected, rtol=rtol, atol=0, err_msg=name)
        else:
            assert_array_equal(actual, expected, err_msg=name)


def _assert_same_predictions(ours, ref, X, rtol=1e-10, source=None):
    """Ours on ``source`` (``X`` by default) as scikit-learn's on ``X``."""
    source = X if source is None else source
    assert_array_equal(ours.predict(source), ref.predict(X))
    for method in PREDICTIONS[1:]:
        actual, expected = getattr(ours, method)(source), getattr(ref, method)(X)
        assert actual.dtype == expected.dtype, method
        # Probabilities near 0 are known to their absolute rounding.
        atol = 1e-15 if method == "predict_proba" else 0.0
        assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=method)


# -- fit equals scikit-learn's ------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch_size", [1, 7, 50, 10_000])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_fit_equals_scikit_learn(name, batch_size, n_jobs, weighted):
    X, y = _data(name)
    w = _weights(len(X)) if weighted else None
    ref, ours = _pair(name)
    ref.fit(X, y, sample_weight=w)
    ours.set_params(batch_size=batch_size, n_jobs=n_jobs)
    assert ours.fit(X, y, sample_weight=w) is ours
    _assert_same_model(ours, ref, rtol=1e-12)
    _assert_same_predictions(ours, ref, X)
    # Weighted sums over batches: to their rounding.
    score = ref.score(X, y, sample_weight=w)
    assert ours.score(X, y, sample_weight=w) == pytest.approx(score, rel=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_float32_rows(name):
    X, y = _data(name, seed=2, dtype=np.float32)
    w = _weights(len(X), seed=3)
    ref, ours = _pair(name)
    ref.fit(X, y, sample_weight=w)
    ours.set_params(batch_size=13, n_jobs=2).fit(X, y, sample_weight=w)
    if name != "GaussianNB":
        # Counts of float32 integers, summed in float64 by both: exact.
        _assert_same_model(ours, ref, rtol=1e-12)
        _assert_same_predictions(ours, ref, X)
        return
    # scikit-learn's GaussianNB keeps float32 rows' attributes in float32 and
    # computes them in float32; ours are computed in float64 and rounded to
    # float32 once: scikit-learn's float64 fit of the same rows, rounded,
    # to a float32 rounding, and scikit-learn's float32 fit to its own
    # float32 summation error.
    exact = sk.GaussianNB().fit(X.astype(np.float64), y, sample_weight=w)
    for attr in ("theta_", "var_", "class_count_", "class_prior_", "epsilon_"):
        value = getattr(ours, attr)
        assert np.asarray(value).dtype == np.asarray(getattr(ref, attr)).dtype
        assert np.asarray(value).dtype == np.float32, attr
        assert_allclose(value, getattr(exact, attr), rtol=1.2e-7, err_msg=attr)
        assert_allclose(value, getattr(ref, attr), rtol=1e-5, err_msg=attr)
    assert_array_equal(ours.predict(X), ref.predict(X))
    for method in PREDICTIONS[1:]:
        actual, expected = getattr(ours, method)(X), getattr(ref, method)(X)
        assert actual.dtype == expected.dtype == np.float32
        assert_allclose(actual, expected, rtol=1e-4, atol=1e-5, err_msg=method)


@pytest.mark.parametrize("offset", [1e6, 1e8])
@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_far_from_the_origin(offset, weighted):
    rng = np.random.RandomState(4)
    y = rng.randint(3, size=200)
    spread = 1e-2 if offset == 1e8 else 1.0
    X = (rng.normal(size=(200, 3)) + y[:, None]) * spread + offset
    w = _weights(len(X)) if weighted else None
    ours = ooc.OOCGaussianNB(batch_size=17, n_jobs=2).fit(X, y, sample_weight=w)
    # At 1e8 scikit-learn's variances lose digits (3e-9 of them, measured:
    # its class means are rounded at 1e8 before it subtracts them), so the
    # reference is fitted on the centered rows: X - offset is exact in
    # float64 (Sterbenz), and has the same variances.
    ref = sk.GaussianNB().fit(X - offset, y, sample_weight=w)
    assert_allclose(ours.var_, ref.var_, rtol=1e-12)
    assert_allclose(ours.epsilon_, ref.epsilon_, rtol=1e-12)
    # The means are known to the rounding of numbers of size offset.
    assert_allclose(ours.theta_ - offset, ref.theta_, rtol=0, atol=np.spacing(offset))
    assert_allclose(ours.class_count_, ref.class_count_, rtol=1e-14)
    assert_array_equal(ours.predict(X), ref.predict(X - offset))
    if offset == 1e6:
        # There scikit-learn keeps its digits: the raw fit is the reference.
        raw = sk.GaussianNB().fit(X, y, sample_weight=w)
        _assert_same_model(ours, raw, rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_bitwise_equal_across_n_jobs(name):
    X, y = _data(name, seed=5)
    w = _weights(len(X))
    fits = [
        getattr(ooc, "OOC" + name)(batch_size=9, n_jobs=n).fit(X, y, sample_weight=w)
        for n in (1, 2)
    ]
    assert pickle.dumps(_attributes(fits[0])) == pickle.dumps(_attributes(fits[1]))


@pytest.mark.parametrize(
    "name, params",
    [
        ("GaussianNB", dict(priors=[0.2, 0.5, 0.3], var_smoothing=1e-3)),
        ("MultinomialNB", dict(alpha=0.0, force_alpha=False, fit_prior=False)),
        ("ComplementNB", dict(alpha=np.linspace(0.1, 2.0, 5), norm=True)),
        ("BernoulliNB", dict(alpha=0.3, binarize=1.5, class_prior=[0.1, 0.2, 0.7])),
        ("BernoulliNB", dict(binarize=None)),
        ("CategoricalNB", dict(alpha=0.5, min_categories=[4, 3, 9, 7])),
        ("CategoricalNB", dict(min_categories=10, fit_prior=False)),
    ],
)
def test_parameters_as_scikit_learns(name, params):
    X, y = _data(name, seed=6)
    if params.get("binarize", 0.0) is None:
        X = (X > 1).astype(np.float64)
    ref, ours = _pair(name, **params)
    ours.set_params(batch_size=11)
    if params.get("force_alpha") is False:
        for model in (ref, ours):
            with pytest.warns(UserWarning, match="alpha too small will result in"):
                model.fit(X, y)
    else:
        ref.fit(X, y)
        ours.fit(X, y)
    _assert_same_model(ours, ref, rtol=1e-12)
    _assert_same_predictions(ours, ref, X)


# -- every source -------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["path", "memmap", "lazy"])
def test_fit_and_predict_from_every_source(name, kind, tmp_path):
    X, y = _data(name, seed=7)
    w = _weights(len(X))
    path = tmp_path / "X.npy"
    np.save(path, X)
    source = {
        "path": str(path),
        "memmap": np.load(path, mmap_mode="r"),
        "lazy": LazyArray(str(path)),
    }[kind]
    in_memory = getattr(ooc, "OOC" + name)(batch_size=16).fit(X, y, sample_weight=w)
    ours = getattr(ooc, "OOC" + name)(batch_size=16).fit(source, y, sample_weight=w)
    assert fitted_state(ours) == fitted_state(in_memory)
    ref = getattr(sk, name)().fit(X, y, sample_weight=w)
    for method in PREDICTIONS:
        assert_array_equal(getattr(ours, method)(source), getattr(ours, method)(X))
    _assert_same_predictions(ours, ref, X, source=source)
    score = ref.score(X, y, sample_weight=w)
    assert ours.score(source, y, sample_weight=w) == pytest.approx(score, rel=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_batches_per_epoch_fits_the_first_batches(name):
    X, y = _data(name, seed=8)
    head = getattr(ooc, "OOC" + name)().fit(X[:30], y[:30])
    ours = getattr(ooc, "OOC" + name)(batch_size=10, batches_per_epoch=3).fit(X, y)
    _assert_same_model(ours, head, rtol=1e-12)
    # The fit keyword overrides the constructor's value, for that call.
    ours.fit(X, y, batches_per_epoch=None)
    assert ours.batches_per_epoch == 3
    again = getattr(ooc, "OOC" + name)(batch_size=10).fit(X, y, batches_per_epoch=3)
    _assert_same_model(again, head, rtol=1e-12)
    whole = getattr(ooc, "OOC" + name)().fit(X, y)
    _assert_same_model(
        getattr(ooc, "OOC" + name)(batch_size=10).fit(X, y, batches_per_epoch=12),
        whole,
        rtol=1e-12,
    )


@pytest.mark.parametrize("name", NAMES)
def test_summarize_over_slices_then_from_summaries_is_fit(name, tmp_path):
    X, y = _data(name, seed=15)
    w = _weights(len(X))
    path = tmp_path / "X.npy"
    np.save(path, X)
    memmap = np.load(path, mmap_mode="r")
    whole = getattr(ooc, "OOC" + name)().fit(X, y, sample_weight=w)
    ours = getattr(ooc, "OOC" + name)(batch_size=7)
    for lo, hi in [(0, 33), (33, 34), (34, 120)]:
        assert ours.summarize(memmap[lo:hi], y[lo:hi], sample_weight=w[lo:hi]) is ours
        assert not hasattr(ours, "classes_")  # the model waits
    assert ours.from_summaries() is ours
    # For GaussianNB too: epsilon_ of all the rows, as fit's (which a
    # sequence of partial_fit calls does not give).
    _assert_same_model(ours, whole, rtol=1e-12)
    with pytest.raises(ValueError, match="has no pending statistics: call summar"):
        ours.from_summaries()
    # A fitted model is unchanged by summarize until from_summaries.
    before = fitted_state(ours)
    ours.summarize(X[:40], y[:40])
    del ours._pending_stats
    assert fitted_state(ours) == before
    # fit drops what was pending.
    ours.summarize(X[:40], y[:40]).fit(X, y, sample_weight=w)
    assert not hasattr(ours, "_pending_stats")


# -- partial_fit ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("weighted", [False, True])
def test_partial_fit_over_chunks(name, weighted, tmp_path):
    X, y = _data(name, seed=9)
    w = _weights(len(X)) if weighted else None
    path = tmp_path / "X.npy"
    np.save(path, X)
    memmap = np.load(path, mmap_mode="r")
    classes = np.unique(y)
    ref, ours = _pair(name)
    ours.set_params(batch_size=8, n_jobs=2)
    for part in np.array_split(np.arange(len(X)), 4):
        kwargs = dict(classes=classes, sample_weight=None if w is None else w[part])
        ref.partial_fit(X[part], y[part], **kwargs)
        # The chunks are read from the file, batch by batch.
        lo, hi = part[0], part[-1] + 1
        assert ours.partial_fit(memmap[lo:hi], y[part], **kwargs) is ours
    # scikit-learn's partial_fit, call for call.
    _assert_same_model(ours, ref, rtol=1e-12)
    _assert_same_predictions(ours, ref, X)
    whole = getattr(ooc, "OOC" + name)().fit(X, y, sample_weight=w)
    if name == "GaussianNB":
        # Each call takes epsilon_ from its own rows and subtracts the new one
        # from variances that hold the old, as scikit-learn's: the means and
        # counts are fit's, and without smoothing the variances are too.
        for attr in ("theta_", "class_count_", "class_prior_"):
            assert_allclose(getattr(ours, attr), getattr(whole, attr), rtol=1e-12)
        plain = ooc.OOCGaussianNB(var_smoothing=0.0, batch_size=8)
        for part in np.array_split(np.arange(len(X)), 4):
            weights = None if w is None else w[part]
            plain.partial_fit(X[part], y[part], classes, sample_weight=weights)
        whole.set_params(var_smoothing=0.0).fit(X, y, sample_weight=w)
        _assert_same_model(plain, whole, rtol=1e-12)
        return
    if name == "CategoricalNB":
        # n_categories_ is the last call's, as scikit-learn's.
        assert_array_equal(ours.n_categories_, ref.n_categories_)
        del ours.n_categories_, whole.n_categories_
    _assert_same_model(ours, whole, rtol=1e-12)


@settings(deadline=None, max_examples=25)
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_partial_fit_over_any_partition_is_scikit_learns(name, data):
    n = data.draw(st.integers(3, 40))
    X, y = _data(name, seed=data.draw(st.integers(0, 2**16)), n=n)
    w = None
    if data.draw(st.booleans()):
        w = _weights(n, seed=data.draw(st.integers(0, 2**16)))
    cuts = data.draw(st.lists(st.integers(1, n - 1), max_size=4, unique=True))
    bounds = [0, *sorted(cuts), n]
    classes = ["eggs", "ham", "spam"]
    ref, ours = _pair(name)
    ours.set_params(batch_size=data.draw(st.integers(1, 8)))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        weights = None if w is None else w[lo:hi]
        if weights is not None and not weights.sum() > 0:
            weights = None
        # After every call, not only the last: scikit-learn's model.
        ref.partial_fit(X[lo:hi], y[lo:hi], classes, sample_weight=weights)
        ours.partial_fit(X[lo:hi], y[lo:hi], classes, sample_weight=weights)
        _assert_same_model(ours, ref, rtol=1e-11)


@pytest.mark.parametrize("name", DISCRETE)
def test_partial_fit_ignores_labels_outside_the_classes_as_scikit_learn(name):
    X, y = _data(name, seed=10)
    ref, ours = _pair(name)
    ref.partial_fit(X[:60], y[:60], classes=np.unique(y))
    ours.partial_fit(X[:60], y[:60], classes=np.unique(y))
    labels = y[60:].copy()
    labels[::5] = "toast"
    ref.partial_fit(X[60:], labels)
    ours.partial_fit(X[60:], labels)
    _assert_same_model(ours, ref, rtol=1e-12)


# -- bad input ------------------------------------------------------------------------


def test_gaussian_partial_fit_refuses_a_label_outside_the_classes(tmp_path):
    X, y = _data("GaussianNB", seed=11)
    model = ooc.OOCGaussianNB(batch_size=10)
    model.partial_fit(X[:60], y[:60], classes=["eggs", "ham", "spam"])
    before = fitted_state(model)
    labels = y[60:].copy()
    labels[-1] = "toast"  # in the last batch read
    path = tmp_path / "X.npy"
    np.save(path, X[60:])
    ref = sk.GaussianNB().partial_fit(X[:60], y[:60], classes=["eggs", "ham", "spam"])
    with pytest.raises(ValueError) as expected:
        ref.partial_fit(X[60:], labels)
    with pytest.raises(ValueError, match=re.escape(str(expected.value))):
        model.partial_fit(str(path), labels)
    assert fitted_state(model) == before


@pytest.mark.parametrize("name", NAMES)
def test_partial_fit_needs_the_classes_first(name):
    X, y = _data(name)
    model = getattr(ooc, "OOC" + name)()
    expected = "classes must be passed on the first call to partial_fit."
    with pytest.raises(ValueError, match=expected):
        getattr(sk, name)().partial_fit(X, y)
    with pytest.raises(ValueError, match=expected):
        model.partial_fit(X, y)
    assert not hasattr(model, "classes_")
    assert fitted_state(model) == fitted_state(getattr(ooc, "OOC" + name)())


@pytest.mark.parametrize("name", ["MultinomialNB", "ComplementNB", "CategoricalNB"])
@pytest.mark.parametrize("call", ["fit", "partial_fit", "predict"])
def test_negative_values_refused_as_scikit_learn(name, call, tmp_path):
    X, y = _data(name, seed=12)
    model = getattr(ooc, "OOC" + name)(batch_size=25)
    model.partial_fit(X[:50], y[:50], classes=np.unique(y))
    before = fitted_state(model)
    bad = X.copy()
    bad[77, 2] = -1
    path = tmp_path / "X.npy"
    np.save(path, bad)
    ref = getattr(sk, name)().partial_fit(X[:50], y[:50], classes=np.unique(y))
    if call == "predict" and name != "CategoricalNB":
        # scikit-learn's multinomial models score negative rows: ours too.
        _assert_same_predictions(model, ref, bad, source=str(path))
        return
    with pytest.raises(ValueError) as expected:
        if call == "predict":
            ref.predict(bad)
        else:
            getattr(ref, call)(bad, y)
    # scikit-learn's text, whose full stop ours replaces by where the value
    # is (the row and batch as well, where it is read from a file).
    message = str(expected.value)
    assert message == f"Negative values in data passed to {name} (input X)."
    with pytest.raises(ValueError, match="^" + re.escape(message[:-1] + ": ")):
        if call == "predict":
            model.predict(str(path))
        else:
            getattr(model, call)(str(path), y)
    assert fitted_state(model) == before


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("call", ["partial_fit", "predict", "predict_proba", "score"])
def test_wrong_number_of_features(name, call):
    X, y = _data(name, seed=13)
    ref, ours = _pair(name)
    ref.fit(X, y)
    ours.set_params(batch_size=20).fit(X, y)
    before = fitted_state(ours)
    args = (X[:, :3], y) if call in ("partial_fit", "score") else (X[:, :3],)
    with pytest.raises(ValueError) as expected:
        getattr(ref, call)(*args)
    # scikit-learn's text, naming our class.
    message = str(expected.value).replace(name, "OOC" + name)
    assert message == (
        f"X has 3 features, but OOC{name} is expecting {X.shape[1]} features as input."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(ours, call)(*args)
    assert fitted_state(ours) == before


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("call", ["fit", "partial_fit"])
def test_rows_that_all_weigh_zero(name, call):
    X, y = _data(name, seed=16)
    zero = np.zeros(40)
    ref, ours = _pair(name)
    ours.set_params(batch_size=9)
    for model in (ref, ours):
        model.partial_fit(X[40:], y[40:], np.unique(y))
    before = fitted_state(ours)
    args = (X[:40], y[:40]) if call == "fit" else (X[:40], y[:40], np.unique(y))
    with pytest.raises(ValueError) as expected:
        getattr(ref, call)(*args, sample_weight=zero)
    assert str(expected.value) == (
        "Sample weights must contain at least one non-zero number."
    )
    with pytest.raises(ValueError, match=re.escape(str(expected.value))):
        getattr(ours, call)(*args, sample_weight=zero)
    assert fitted_state(ours) == before


@pytest.mark.parametrize(
    "priors, message",
    [
        ([0.5, 0.5], "Number of priors must match number of classes."),
        ([0.5, 0.6, 0.2], "The sum of the priors should be 1."),
        ([1.2, -0.1, -0.1], "Priors must be non-negative."),
    ],
)
def test_gaussian_bad_priors(priors, message):
    X, y = _data("GaussianNB", seed=14)
    with pytest.raises(ValueError, match=re.escape(message)):
        sk.GaussianNB(priors=priors).fit(X, y)
    model = ooc.OOCGaussianNB(batch_size=30).fit(X, y)
    before = fitted_state(model)
    model.set_params(priors=priors)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.fit(X, y)
    model.set_params(priors=None)
    assert fitted_state(model) == before


@pytest.mark.parametrize("name", NAMES)
def test_out_of_core_converts_each(name):
    params = {
        "GaussianNB": dict(var_smoothing=1e-5),
        "MultinomialNB": dict(alpha=0.25),
        "ComplementNB": dict(norm=True),
        "BernoulliNB": dict(binarize=2.0),
        "CategoricalNB": dict(min_categories=6),
    }[name]
    converted = out_of_core(getattr(sk, name)(**params))
    assert type(converted) is getattr(ooc, "OOC" + name)
    assert {k: converted.get_params()[k] for k in params} == params
