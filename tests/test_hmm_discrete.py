"""CategoricalHMM and PoissonHMM: hmmlearn's models fitted out of core."""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_ooc.hmm import CategoricalHMM, PoissonHMM

from .conftest import fitted_state

hmm = pytest.importorskip("hmmlearn.hmm")

K = 3
RTOL = 1e-7


def _states(rng, lengths):
    states = []
    for length in lengths:
        s = [rng.randint(K)]
        for _ in range(length - 1):
            s.append(s[-1] if rng.rand() < 0.8 else rng.randint(K))
        states.extend(s)
    return np.array(states)


def _symbols(seed=0, n_sequences=40, n_symbols=5):
    rng = np.random.RandomState(seed)
    lengths = rng.randint(1, 30, size=n_sequences)
    states = _states(rng, lengths)
    emission = rng.dirichlet(np.ones(n_symbols) * 0.5, size=K)
    X = np.array([rng.choice(n_symbols, p=emission[s]) for s in states])
    return X[:, None], lengths


def _counts(seed=0, n_sequences=40, n_features=2):
    rng = np.random.RandomState(seed)
    lengths = rng.randint(1, 30, size=n_sequences)
    states = _states(rng, lengths)
    rates = np.array([[1.0, 8.0], [5.0, 2.0], [15.0, 12.0]])[:, :n_features]
    return rng.poisson(rates[states]), lengths


def _start(kind, seed=1, n_symbols=5, n_features=2):
    rng = np.random.RandomState(seed)
    start = {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": rng.dirichlet(np.ones(K), size=K),
    }
    if kind == "categorical":
        start["emissionprob_"] = rng.dirichlet(np.ones(n_symbols), size=K)
    else:
        start["lambdas_"] = rng.uniform(1.0, 10.0, (K, n_features))
    return start


def _set(model, start):
    for name, value in start.items():
        setattr(model, name, np.array(value, copy=True))
    return model


MODELS = {
    "categorical": (CategoricalHMM, hmm.CategoricalHMM, _symbols, "emissionprob_"),
    "poisson": (PoissonHMM, hmm.PoissonHMM, _counts, "lambdas_"),
}


def _assert_same(ours, ref, emission, rtol=RTOL):
    assert_allclose(ours.startprob_, ref.startprob_, rtol=rtol, atol=1e-12)
    assert_allclose(ours.transmat_, ref.transmat_, rtol=rtol, atol=1e-12)
    assert_allclose(getattr(ours, emission), getattr(ref, emission), rtol=rtol)


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("batch_size", [7, 29, 10_000])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_fit_equals_hmmlearn_from_the_same_start(
    kind, implementation, batch_size, n_jobs
):
    # Batches of 7 rows split every sequence longer than 7 into segments.
    ours_cls, ref_cls, data, emission = MODELS[kind]
    X, lengths = data()
    start = _start(kind)
    params = dict(
        n_components=K,
        init_params="",
        n_iter=5,
        tol=-np.inf,
        implementation=implementation,
    )
    ref = _set(ref_cls(**params), start).fit(X, lengths)
    ours = _set(ours_cls(**params, batch_size=batch_size, n_jobs=n_jobs), start)
    ours.fit(X, lengths)
    _assert_same(ours, ref, emission)
    assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history), rtol=RTOL)
    log_prob, posteriors = ours.score_samples(X, lengths)
    ref_log_prob, ref_posteriors = ref.score_samples(X, lengths)
    assert_allclose(log_prob, ref_log_prob, rtol=RTOL)
    assert_allclose(posteriors, ref_posteriors, rtol=RTOL, atol=1e-12)
    for algorithm in ("viterbi", "map"):
        ours_lp, ours_states = ours.decode(X, lengths, algorithm=algorithm)
        ref_lp, ref_states = ref.decode(X, lengths, algorithm=algorithm)
        assert_allclose(ours_lp, ref_lp, rtol=RTOL)
        assert_array_equal(ours_states, ref_states)


@pytest.mark.parametrize("kind", MODELS)
def test_n_jobs_gives_the_same_model_bitwise(kind):
    ours_cls, _, data, emission = MODELS[kind]
    X, lengths = data(seed=3)
    start = _start(kind)
    models = [
        _set(ours_cls(K, init_params="", n_iter=3, batch_size=40, n_jobs=n), start).fit(
            X, lengths
        )
        for n in (1, 2)
    ]
    for name in ("startprob_", "transmat_", emission):
        assert_array_equal(getattr(models[1], name), getattr(models[0], name))


@pytest.mark.parametrize(
    "kind, priors",
    [
        ("categorical", dict(emissionprob_prior=1.5, startprob_prior=2.0)),
        ("categorical", dict(emissionprob_prior=0.8, transmat_prior=0.9)),
        ("poisson", dict(lambdas_prior=2.0, lambdas_weight=0.5)),
    ],
)
def test_priors_as_hmmlearn(kind, priors):
    ours_cls, ref_cls, data, emission = MODELS[kind]
    X, lengths = data(seed=4)
    start = _start(kind)
    params = dict(n_components=K, init_params="", n_iter=4, tol=-np.inf, **priors)
    ref = _set(ref_cls(**params), start).fit(X, lengths)
    ours = _set(ours_cls(**params, batch_size=31), start).fit(X, lengths)
    _assert_same(ours, ref, emission)


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("random_state", [0, 7])
def test_default_initialization_as_hmmlearn(kind, random_state):
    # hmmlearn's draws: Dirichlet start and transitions, then its emission
    # draws from a generator of its own seeded alike (uniform symbol
    # probabilities; Gamma rates about the mean and variance of all values).
    ours_cls, ref_cls, data, emission = MODELS[kind]
    X, lengths = data(seed=5)
    params = dict(n_components=K, n_iter=3, tol=-np.inf, random_state=random_state)
    ref = ref_cls(**params).fit(X, lengths)
    ours = ours_cls(**params, batch_size=50).fit(X, lengths)
    _assert_same(ours, ref, emission)


def test_categorical_symbols_from_a_npy_file_of_integers(tmp_path):
    X, lengths = _symbols(seed=6)
    path = tmp_path / "symbols.npy"
    np.save(path, X.astype(np.int16))
    start = _start("categorical")
    params = dict(n_components=K, init_params="", n_iter=3, tol=-np.inf)
    ref = _set(hmm.CategoricalHMM(**params), start).fit(X, lengths)
    lengths_path = tmp_path / "lengths.npy"
    np.save(lengths_path, lengths)
    ours = _set(CategoricalHMM(**params, batch_size=13), start)
    ours.fit(path, lengths_path)
    _assert_same(ours, ref, "emissionprob_")
    assert_array_equal(ours.predict(path, lengths), ref.predict(X, lengths))


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("source", ["memmap", "path", "table"])
def test_every_source_gives_the_same_model(kind, source, tmp_path):
    ours_cls, _, data, emission = MODELS[kind]
    X, lengths = data(seed=7)
    path = tmp_path / "X.npy"
    np.save(path, X)
    if source == "memmap":
        rows = np.load(path, mmap_mode="r")
    elif source == "path":
        rows = str(path)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from sklearn_ooc.data import open_table

        table_path = tmp_path / "X.parquet"
        columns = {f"x{j}": X[:, j] for j in range(X.shape[1])}
        pq.write_table(pa.table(columns), table_path, row_group_size=50)
        rows = open_table(table_path)
    start = _start(kind)
    params = dict(n_components=K, init_params="", n_iter=3, batch_size=60)
    reference = _set(ours_cls(**params), start).fit(X, lengths)
    ours = _set(ours_cls(**params), start).fit(rows, lengths)
    for name in ("startprob_", "transmat_", emission):
        assert_array_equal(getattr(ours, name), getattr(reference, name))
    assert_array_equal(ours.predict(rows, lengths), reference.predict(X, lengths))


def test_categorical_number_of_symbols_found_in_the_data():
    X, lengths = _symbols(seed=8, n_symbols=4)
    model = CategoricalHMM(K, n_iter=1, random_state=0, batch_size=10)
    model.fit(X, lengths)
    assert model.emissionprob_.shape == (K, int(X.max()) + 1)
    # A parameter is never changed by fit.
    assert model.n_features is None
    wider = CategoricalHMM(K, n_features=9, n_iter=1, random_state=0).fit(X, lengths)
    assert wider.emissionprob_.shape == (K, 9)


def test_sample_equals_hmmlearn():
    for kind, (ours_cls, ref_cls, _, _) in MODELS.items():
        start = _start(kind)
        ref = _set(ref_cls(K, init_params=""), start)
        ours = _set(ours_cls(K, init_params=""), start)
        ref._check()
        X, Z = ours.sample(50, random_state=3)
        ref_X, ref_Z = ref.sample(50, random_state=3)
        assert_array_equal(X, ref_X)
        assert_array_equal(Z, ref_Z)


# -- bad input ----------------------------------------------------------------------


def _fitted_categorical():
    X, lengths = _symbols(seed=2, n_symbols=4)
    model = _set(
        CategoricalHMM(K, init_params="", n_iter=2, batch_size=16),
        _start("categorical", n_symbols=4),
    )
    return model.fit(X, lengths), X, lengths


@pytest.mark.parametrize(
    "value, message",
    [
        (1.5, "Symbols should be integers: got 1.5"),
        (-1, "Symbols should be nonnegative: got -1.0"),
        (4, "Largest symbol is 4 but the model only emits symbols up to 3"),
    ],
)
def test_bad_symbol_names_the_row_and_leaves_the_model_unchanged(value, message):
    model, X, lengths = _fitted_categorical()
    bad = X.astype(np.float64)
    bad[37, 0] = value
    before = fitted_state(model)
    expected = re.escape(f"Input X at row 37 (batch 2, rows 25-38): {message}")
    with pytest.raises(ValueError, match=expected):
        model.fit(bad, lengths)
    assert fitted_state(model) == before
    with pytest.raises(ValueError, match=expected):
        model.score(bad, lengths)


def test_two_columns_of_symbols_are_refused():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="a CategoricalHMM reads one column"):
        CategoricalHMM(2, n_features=3).fit(X)


def test_categorical_state_without_weight_is_named_and_the_model_unchanged():
    # A state that no sequence can reach and that starts none: no weight.
    X = np.array([0, 1, 0, 1, 1, 0])[:, None]
    model = CategoricalHMM(2, init_params="", params="se", n_iter=2)
    model.startprob_ = np.array([1.0, 0.0])
    model.transmat_ = np.array([[1.0, 0.0], [0.5, 0.5]])
    model.emissionprob_ = np.array([[0.5, 0.5], [0.5, 0.5]])
    before = fitted_state(model)
    with pytest.raises(ValueError, match=r"state\(s\) \[1\] received no posterior"):
        model.fit(X)
    assert fitted_state(model) == before


def test_poisson_refuses_values_that_are_not_counts():
    X, lengths = _counts(seed=2)
    X = X.astype(np.float64)
    X[20, 1] = 2.5
    model = PoissonHMM(K, random_state=0, batch_size=50)
    expected = re.escape(
        "Input X at row 20 (batch 0, rows 0-47): column 1 holds 2.5; a "
        "PoissonHMM reads counts (non-negative integers)"
    )
    with pytest.raises(ValueError, match=expected):
        model.fit(X, lengths)
    assert not hasattr(model, "lambdas_")


def test_lengths_from_a_column_of_sequence_ids(tmp_path):
    import pandas as pd

    from sklearn_ooc.data import lengths_from_column, open_table
    from sklearn_ooc.hmm import MarkovChain

    X, lengths = _counts(seed=9)
    ids = np.repeat(np.arange(len(lengths)) % 3, lengths)  # ids come back
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "session": ids})
    path = tmp_path / "counts.parquet"
    frame.to_parquet(path, row_group_size=37)
    table = open_table(path)
    # Read in chunks of 5 rows: runs that cross a chunk are counted once.
    rows, found = lengths_from_column(table, "session", chunk_rows=5)
    assert_array_equal(found, lengths)
    assert list(rows.columns) == ["a", "b"]
    start = _start("poisson")
    params = dict(n_components=K, init_params="", n_iter=3, batch_size=40)
    reference = _set(PoissonHMM(**params), start).fit(X, lengths)
    ours = _set(PoissonHMM(**params), start).fit(table, "session")
    assert_array_equal(ours.lambdas_, reference.lambdas_)
    assert_array_equal(ours.predict(table, "session"), reference.predict(X, lengths))
    symbols = pd.DataFrame({"x": X[:, 0] % 4, "session": ids})
    chain = MarkovChain(1, batch_size=30).fit(open_table(symbols), "session")
    expected = MarkovChain(1, batch_size=30).fit(X[:, :1] % 4, lengths)
    assert_array_equal(chain.transition_probs_, expected.transition_probs_)
