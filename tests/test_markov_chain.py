"""MarkovChain: counts of runs of symbols, streamed, against counts in memory."""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_ooc.hmm import MarkovChain

from .conftest import fitted_state


def _sequences(seed=0, n_sequences=30, m=4):
    rng = np.random.RandomState(seed)
    lengths = rng.randint(1, 25, size=n_sequences)
    transition = rng.dirichlet(np.ones(m) * 0.7, size=m)
    symbols = []
    for length in lengths:
        s = [rng.randint(m)]
        for _ in range(length - 1):
            s.append(rng.choice(m, p=transition[s[-1]]))
        symbols.extend(s)
    return np.array(symbols)[:, None], lengths


def _reference(X, lengths, k, m, pseudocount=0.0):
    """The tables counted in memory, sequence by sequence."""
    prefixes = [np.zeros((m,) * (j + 1)) for j in range(k)]
    runs = np.zeros((m,) * (k + 1))
    at = 0
    for length in lengths:
        s = X[at : at + length, 0]
        at += length
        for t in range(length):
            if t < k:
                prefixes[t][tuple(s[: t + 1])] += 1
            else:
                runs[tuple(s[t - k : t + 1])] += 1

    def norm(c):
        c = c + pseudocount
        total = c.sum(axis=-1, keepdims=True)
        return np.where(total > 0, c / np.where(total > 0, total, 1), 0.0)

    return [norm(p) for p in prefixes], norm(runs)


def _log_prob(X, lengths, initial, transition, k):
    out, at = [], 0
    for length in lengths:
        s = X[at : at + length, 0]
        at += length
        total = 0.0
        for t in range(length):
            table = initial[t] if t < k else transition
            total += np.log(table[tuple(s[max(0, t - k) : t + 1])])
        out.append(total)
    return np.array(out)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("batch_size", [3, 17, 10_000])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_tables_equal_counts_in_memory(k, batch_size, n_jobs):
    X, lengths = _sequences(seed=k)
    chain = MarkovChain(k, batch_size=batch_size, n_jobs=n_jobs).fit(X, lengths)
    initial, transition = _reference(X, lengths, k, 4)
    assert chain.n_symbols_ == 4 and chain.n_sequences_ == len(lengths)
    for ours, theirs in zip(chain.initial_probs_, initial, strict=True):
        assert_allclose(ours, theirs, rtol=1e-14)
    assert_allclose(chain.transition_probs_, transition, rtol=1e-14)
    with np.errstate(divide="ignore"):
        expected = _log_prob(X, lengths, initial, transition, k)
    assert_allclose(chain.score_samples(X, lengths), expected, rtol=1e-12)


def test_one_long_sequence_split_across_batches(tmp_path):
    # Batches of 5 rows: each run of k + 1 symbols that crosses a batch
    # boundary reads the k rows before the batch again.
    X, _ = _sequences(seed=7, n_sequences=10)
    path = tmp_path / "X.npy"
    np.save(path, X)
    chain = MarkovChain(2, batch_size=5).fit(str(path))
    initial, transition = _reference(X, [len(X)], 2, 4)
    assert_allclose(chain.transition_probs_, transition, rtol=1e-14)
    assert_allclose(chain.initial_probs_[1], initial[1])


def test_pseudocount_and_symbols_given():
    X, lengths = _sequences(seed=8, m=3)
    chain = MarkovChain(1, n_symbols=5, pseudocount=0.5, batch_size=20)
    chain.fit(X, lengths)
    initial, transition = _reference(X, lengths, 1, 5, pseudocount=0.5)
    assert_allclose(chain.transition_probs_, transition)
    assert_allclose(chain.initial_probs_[0], initial[0])


def test_sample_draws_from_the_tables():
    X, lengths = _sequences(seed=9)
    chain = MarkovChain(1, batch_size=50).fit(X, lengths)
    draws = chain.sample(400, length=6, random_state=0)
    assert draws.shape == (2400, 1)
    again = MarkovChain(1, batch_size=50).fit(draws, np.full(400, 6))
    assert_allclose(again.transition_probs_, chain.transition_probs_, atol=0.08)
    assert_array_equal(chain.sample(3, 6, random_state=1), chain.sample(3, 6, 1))


def test_a_symbol_beyond_the_chain_names_its_row():
    X, lengths = _sequences(seed=10)
    chain = MarkovChain(1, n_symbols=4, batch_size=50).fit(X, lengths)
    before = fitted_state(chain)
    bad = X.astype(np.float64)
    bad[60, 0] = 7
    with pytest.raises(ValueError, match=re.escape("symbol 7 is beyond the 4 symbols")):
        chain.fit(bad, lengths)
    assert fitted_state(chain) == before
    bad[60, 0] = 1.5
    with pytest.raises(ValueError, match="Input X at row 60 .*non-negative integers"):
        chain.fit(bad, lengths)
