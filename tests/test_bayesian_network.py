"""BayesianNetwork: counts, structures and inference against in-memory ones."""

import functools
import itertools
import re

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse.csgraph import minimum_spanning_tree

from sklearn_ooc.bayesian_network import BayesianNetwork

from .conftest import fitted_state


def _data(seed=0, n=2000):
    """A chain a -> b -> c, d depending on a and c, e independent."""
    rng = np.random.RandomState(seed)
    a = rng.randint(2, size=n)
    b = np.where(rng.rand(n) < 0.85, a, rng.randint(3, size=n))
    c = np.where(rng.rand(n) < 0.8, b % 2, 1 - b % 2)
    d = (a + c + (rng.rand(n) < 0.2)) % 2
    e = rng.randint(3, size=n)
    return np.column_stack([a, b, c, d, e])


def _cpt(X, child, parents, cards):
    """The table counted in memory with pandas, parents first."""
    frame = pd.DataFrame(X)
    shape = tuple(cards[p] for p in parents) + (cards[child],)
    table = np.zeros(shape)
    for key, count in frame.groupby(list(parents) + [child]).size().items():
        key = key if isinstance(key, tuple) else (key,)
        table[key] = count
    total = table.sum(axis=-1, keepdims=True)
    return np.where(total > 0, table / np.where(total > 0, total, 1), 0.0)


def _bic(X, structure, cards):
    n = len(X)
    total = 0.0
    for v, parents in enumerate(structure):
        frame = pd.DataFrame(X)
        joint = frame.groupby(list(parents) + [v]).size()
        if parents:
            marginal = frame.groupby(list(parents)).size()
            for key, count in joint.items():
                key = key if isinstance(key, tuple) else (key,)
                pk = key[:-1] if len(key) > 2 else key[0]
                total += count * np.log(count / marginal[pk])
        else:
            total += float((joint * np.log(joint / n)).sum())
        q = np.prod([cards[p] for p in parents]) if parents else 1
        total -= 0.5 * np.log(n) * (cards[v] - 1) * q
    return total


STRUCTURE = ((), (0,), (1,), (0, 2), ())


@pytest.mark.parametrize("batch_size", [7, 500, 10_000])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_tables_of_a_given_structure_equal_crosstabs(batch_size, n_jobs):
    X = _data()
    net = BayesianNetwork(STRUCTURE, batch_size=batch_size, n_jobs=n_jobs).fit(X)
    cards = X.max(axis=0) + 1
    assert_array_equal(net.n_categories_, cards)
    for v, parents in enumerate(STRUCTURE):
        assert_allclose(net.probabilities_[v], _cpt(X, v, parents, cards), rtol=1e-14)
    assert net.n_passes_ == 2  # the categories, then the tables


def test_chow_liu_is_the_maximum_spanning_tree_of_the_mutual_information():
    X = _data(seed=1)
    d = X.shape[1]
    net = BayesianNetwork(algorithm="chow-liu", batch_size=300).fit(X)
    mi = np.zeros((d, d))
    for i, j in itertools.combinations(range(d), 2):
        joint = pd.crosstab(X[:, i], X[:, j]).to_numpy() / len(X)
        outer = np.outer(joint.sum(axis=1), joint.sum(axis=0))
        mi[i, j] = np.sum(np.where(joint > 0, joint * np.log(joint / outer), 0.0))
    tree = minimum_spanning_tree(-np.triu(mi)).toarray()
    expected = {frozenset((i, j)) for i, j in zip(*np.nonzero(tree), strict=True)}
    edges = {frozenset((v, p)) for v, ps in enumerate(net.structure_) for p in ps}
    assert edges == expected
    assert net.structure_[0] == ()
    assert net.n_passes_ == 3  # categories, pairs, tables


def test_hill_climbing_reaches_a_local_optimum_of_bic():
    X = _data(seed=2)[:, :4]
    cards = X.max(axis=0) + 1
    net = BayesianNetwork(algorithm="hill-climb", max_parents=2, batch_size=400)
    net.fit(X)
    score = _bic(X, net.structure_, cards)
    # No single edge added, removed or reversed does better.
    d = X.shape[1]
    for u, v in itertools.permutations(range(d), 2):
        trial = [list(p) for p in net.structure_]
        if u in trial[v]:
            trial[v].remove(u)
        elif len(trial[v]) < 2:
            trial[v].append(u)
        else:
            continue
        parents = [tuple(sorted(p)) for p in trial]
        try:
            BayesianNetwork(tuple(parents)).fit(X[:10])
        except ValueError:
            continue  # a cycle
        assert _bic(X, parents, cards) <= score + 1e-6
    assert score > _bic(X, ((),) * d, cards)


def test_exact_search_finds_the_best_network():
    X = _data(seed=3)[:, :4]
    cards = X.max(axis=0) + 1
    net = BayesianNetwork(algorithm="exact", max_parents=2, batch_size=512).fit(X)
    best = -np.inf
    d = X.shape[1]
    options = [
        [
            ps
            for k in range(3)
            for ps in itertools.combinations([u for u in range(d) if u != v], k)
        ]
        for v in range(d)
    ]
    for structure in itertools.product(*options):
        try:
            BayesianNetwork(structure).fit(X[:10])
        except ValueError:
            continue
        best = max(best, _bic(X, structure, cards))
    assert_allclose(_bic(X, net.structure_, cards), best, rtol=1e-12)
    assert net.n_passes_ == 3


def test_log_probability_and_inference_by_enumeration(tmp_path):
    X = _data(seed=4)
    path = tmp_path / "X.npy"
    np.save(path, X)
    net = BayesianNetwork(STRUCTURE, pseudocount=1.0, batch_size=256).fit(str(path))
    logp = net.log_probability(str(path))
    direct = sum(
        np.log(net.probabilities_[v][tuple(X[:, p] for p in ps) + (X[:, v],)])
        for v, ps in enumerate(STRUCTURE)
    )
    assert_allclose(logp, direct, rtol=1e-12)
    # Posteriors of missing values: the joint enumerated by brute force.
    rows = np.array([[1, -1, -1, 0, 2], [-1, 2, 1, -1, 0]])
    proba = net.predict_proba(rows)
    cards = net.n_categories_
    for i, row in enumerate(rows):
        everything = np.array(list(itertools.product(*[range(c) for c in cards])))
        keep = np.all((row < 0) | (everything == row), axis=1)
        candidates = everything[keep]
        weights = np.exp(net.log_probability(candidates))
        weights /= weights.sum()
        for v in np.flatnonzero(row < 0):
            expected = np.bincount(candidates[:, v], weights, minlength=cards[v])
            assert_allclose(proba[v][i], expected, rtol=1e-12)
    completed = net.predict(rows)
    assert_array_equal(completed[rows >= 0], rows[rows >= 0])


def test_sample_follows_the_tables():
    X = _data(seed=5)
    net = BayesianNetwork(STRUCTURE, batch_size=500).fit(X)
    draws = net.sample(100_000, random_state=0)
    again = BayesianNetwork(STRUCTURE).fit(draws)
    for ours, theirs in zip(again.probabilities_, net.probabilities_, strict=True):
        assert_allclose(ours, theirs, atol=0.03)


def test_a_cycle_is_refused_naming_its_variables():
    X = _data(seed=6)
    net = BayesianNetwork(STRUCTURE, batch_size=500).fit(X)
    before = fitted_state(net)
    net.set_params(structure=((2,), (0,), (1,), (), ()))
    before = fitted_state(net)
    with pytest.raises(ValueError, match="structure has a cycle: .*0 -> 1 -> 2|cycle"):
        net.fit(X)
    assert fitted_state(net) == before


def test_a_value_outside_the_alphabet_names_its_row_and_variable():
    X = _data(seed=7)
    net = BayesianNetwork(STRUCTURE, n_categories=[2, 3, 2, 2, 3], batch_size=500)
    net.fit(X)
    before = fitted_state(net)
    bad = X.copy()
    bad[1234, 2] = 5
    expected = (
        "Input X at row 1234 (batch 2, rows 1000-1499), variable 2: 5 is beyond "
        "its 2 categories"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        net.fit(bad)
    assert fitted_state(net) == before


def test_inference_on_a_wide_network_by_variable_elimination():
    # A chain of 60 binary variables with 40 values missing a row: 2**40
    # joint values, beyond enumeration. Each run of two missing values sits
    # between observed ones, so its posterior is a product of three tables.
    d, n = 60, 3000
    rng = np.random.RandomState(0)
    X = np.empty((n, d), dtype=np.int64)
    X[:, 0] = rng.randint(2, size=n)
    for v in range(1, d):
        X[:, v] = np.where(rng.rand(n) < 0.8, X[:, v - 1], 1 - X[:, v - 1])
    structure = ((),) + tuple((v - 1,) for v in range(1, d))
    net = BayesianNetwork(structure, pseudocount=1.0, batch_size=500).fit(X)
    rows = X[:3].copy()
    rows[:, np.arange(d) % 3 != 0] = -1
    proba = net.predict_proba(rows)
    table = net.probabilities_
    for i, row in enumerate(rows):
        for a in range(1, d, 3):
            b = a + 1
            joint = table[a][row[a - 1]][:, None] * table[b]
            if b + 1 < d:
                joint = joint * table[b + 1][:, row[b + 1]][None, :]
            joint /= joint.sum()
            assert_allclose(proba[a][i], joint.sum(axis=1), rtol=1e-12)
            assert_allclose(proba[b][i], joint.sum(axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="at most 52 missing values"):
        net.predict(np.full((1, d), -1))


@pytest.mark.parametrize("max_parents", [1, 2, 3])
def test_exact_search_equals_the_plain_dynamic_programme(max_parents):
    from ._naive import best_network

    d, n = 8, 4000
    rng = np.random.RandomState(max_parents)
    X = np.empty((n, d), dtype=np.int64)
    X[:, 0] = rng.randint(3, size=n)
    for v in range(1, d):
        parents = rng.choice(v, size=min(v, 2), replace=False)
        mixed = X[:, parents].sum(axis=1) % 2
        X[:, v] = np.where(rng.rand(n) < 0.7, mixed, rng.randint(2, size=n))
    net = BayesianNetwork(algorithm="exact", max_parents=max_parents).fit(X)
    cards = net.n_categories_
    empty = ((),) * d
    base = _bic(X, empty, cards)

    @functools.cache
    def gain(v, ps):
        # The BIC of v's family less that of v alone (the others cancel).
        return _bic(X, tuple(ps if u == v else () for u in range(d)), cards) - base

    _, total = best_network(gain, d, max_parents)
    assert _bic(X, net.structure_, cards) - base == pytest.approx(total, rel=1e-10)
    assert all(len(ps) <= max_parents for ps in net.structure_)


def test_exact_search_beyond_sixteen_variables():
    d, n = 17, 3000
    rng = np.random.RandomState(5)
    X = np.empty((n, d), dtype=np.int64)
    X[:, 0] = rng.randint(2, size=n)
    for v in range(1, d):
        X[:, v] = np.where(
            rng.rand(n) < 0.8, X[:, rng.randint(v)], rng.randint(2, size=n)
        )
    exact = BayesianNetwork(algorithm="exact", max_parents=1).fit(X)
    tree = BayesianNetwork(algorithm="chow-liu").fit(X)
    cards = exact.n_categories_
    # A tree is one of the networks of one parent a variable: the exact
    # search's BIC is at least its.
    assert _bic(X, exact.structure_, cards) >= _bic(X, tree.structure_, cards) - 1e-9
    with pytest.raises(ValueError, match="beyond 20 variables"):
        BayesianNetwork(algorithm="exact").fit(np.zeros((5, 21), dtype=np.int64))


def test_weights_count_as_repeated_rows():
    X = _data(seed=6, n=500)
    w = np.random.RandomState(0).randint(0, 4, size=len(X))
    weighted = BayesianNetwork(STRUCTURE, batch_size=64).fit(X, sample_weight=w)
    repeated = BayesianNetwork(STRUCTURE).fit(np.repeat(X, w, axis=0))
    for a, b in zip(weighted.probabilities_, repeated.probabilities_, strict=True):
        assert_allclose(a, b, rtol=1e-12)
