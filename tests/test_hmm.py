"""GaussianHMM: hmmlearn's GaussianHMM fitted out of core, batch by batch."""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_ooc.hmm import GaussianHMM

from .conftest import fitted_state

hmm = pytest.importorskip("hmmlearn.hmm")

COVARIANCE_TYPES = ["spherical", "diag", "full", "tied"]
K, D = 3, 2
RTOL = 1e-7


def _sequences(seed=0, n_sequences=40, offset=0.0):
    """Many short sequences (1 to 29 rows) of three well-separated states."""
    rng = np.random.RandomState(seed)
    lengths = rng.randint(1, 30, size=n_sequences)
    centers = np.array([[-4.0, 0.0], [0.0, 3.0], [4.0, -1.0]])
    states = []
    for length in lengths:
        s = [rng.randint(K)]
        for _ in range(length - 1):
            s.append(s[-1] if rng.rand() < 0.8 else rng.randint(K))
        states.extend(s)
    X = centers[states] + rng.randn(len(states), D) + offset
    return X, lengths


def _start(covariance_type, seed=1):
    rng = np.random.RandomState(seed)
    covars = {
        "spherical": rng.uniform(1.0, 2.0, K),
        "diag": rng.uniform(1.0, 2.0, (K, D)),
        "full": np.array([np.eye(D) * 1.5 + 0.3 * rng.rand()] * K),
        "tied": np.eye(D) * 1.5 + 0.2,
    }[covariance_type]
    return {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": rng.dirichlet(np.ones(K), size=K),
        "means_": rng.randn(K, D),
        "covars_": covars,
    }


def _set(model, start):
    for name, value in start.items():
        setattr(model, name, np.array(value, copy=True))
    return model


def _full_covars(ref):
    """hmmlearn's covariances as full matrices (its getter repeats a fitted
    spherical model's variances once a feature)."""
    if ref.covariance_type == "spherical":
        variances = np.asarray(ref._covars_).reshape(ref.n_components, -1)[:, 0]
        return np.array([np.eye(ref.n_features) * v for v in variances])
    return ref.covars_


def _assert_same_model(ours, ref, rtol=RTOL):
    assert_allclose(ours.startprob_, ref.startprob_, rtol=rtol, atol=1e-12)
    assert_allclose(ours.transmat_, ref.transmat_, rtol=rtol, atol=1e-12)
    assert_allclose(ours.means_, ref.means_, rtol=rtol, atol=1e-10)
    assert_allclose(ours.covars_, _full_covars(ref), rtol=rtol, atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("batch_size", [29, 100, 10_000])
def test_fit_equals_hmmlearn_from_the_same_start(
    covariance_type, implementation, batch_size
):
    X, lengths = _sequences()
    start = _start(covariance_type)
    params = dict(
        n_components=K,
        covariance_type=covariance_type,
        init_params="",
        n_iter=6,
        tol=-np.inf,
        implementation=implementation,
    )
    ref = _set(hmm.GaussianHMM(**params), start).fit(X, lengths)
    ours = _set(GaussianHMM(**params, batch_size=batch_size), start)
    ours.fit(X, lengths)
    _assert_same_model(ours, ref)
    assert ours.monitor_.iter == ref.monitor_.iter == 6
    assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history), rtol=RTOL)
    assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=RTOL)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_n_jobs_gives_the_same_model_bitwise(covariance_type):
    X, lengths = _sequences()
    start = _start(covariance_type)
    models = [
        _set(
            GaussianHMM(
                K, covariance_type, init_params="", n_iter=4, batch_size=40, n_jobs=n
            ),
            start,
        ).fit(X, lengths)
        for n in (1, 2, 3)
    ]
    for model in models[1:]:
        for name in ("startprob_", "transmat_", "means_", "covars_"):
            assert_array_equal(getattr(model, name), getattr(models[0], name))
        assert list(model.monitor_.history) == list(models[0].monitor_.history)


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
@pytest.mark.parametrize(
    "priors",
    [
        dict(startprob_prior=2.0, transmat_prior=1.5),
        dict(means_prior=0.5, means_weight=2.0, covars_prior=0.3, covars_weight=4.0),
        dict(startprob_prior=0.5, transmat_prior=0.7),
    ],
)
def test_priors_as_hmmlearn(covariance_type, priors):
    X, lengths = _sequences(seed=2)
    start = _start(covariance_type)
    params = dict(
        n_components=K, covariance_type=covariance_type, init_params="", n_iter=5
    )
    ref = _set(hmm.GaussianHMM(**params, **priors), start).fit(X, lengths)
    ours = _set(GaussianHMM(**params, **priors, batch_size=50), start)
    _assert_same_model(ours.fit(X, lengths), ref)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("params", ["st", "mc", "stc", "sm", "c"])
def test_subsets_of_params_as_hmmlearn(covariance_type, params):
    # Without 'm' hmmlearn takes the covariances about the origin with a zero
    # count: its arithmetic is followed (with a prior weight that keeps its
    # full and tied covariances finite).
    X, lengths = _sequences(seed=3)
    start = _start(covariance_type)
    kwargs = dict(
        n_components=K,
        covariance_type=covariance_type,
        init_params="",
        params=params,
        n_iter=3,
        covars_weight=1 if "m" in params else D + 3,
    )
    ref = _set(hmm.GaussianHMM(**kwargs), start).fit(X, lengths)
    ours = _set(GaussianHMM(**kwargs, batch_size=45), start).fit(X, lengths)
    _assert_same_model(ours, ref)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_initialization_as_hmmlearn_on_small_data(covariance_type):
    # hmmlearn's Dirichlet draws, OOCKMeans(n_init=10) centers (equal to
    # KMeans' here) and the covariance of all rows.
    X, lengths = _sequences(seed=4)
    ref = hmm.GaussianHMM(K, covariance_type, n_iter=3, random_state=0)
    ours = GaussianHMM(K, covariance_type, n_iter=3, random_state=0, batch_size=64)
    _assert_same_model(ours.fit(X, lengths), ref.fit(X, lengths))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("implementation", ["log", "scaling"])
def test_inference_equals_hmmlearn_on_the_same_parameters(
    covariance_type, implementation
):
    X, lengths = _sequences(seed=5)
    start = _start(covariance_type, seed=6)
    ref = _set(
        hmm.GaussianHMM(K, covariance_type, implementation=implementation), start
    )
    ours = _set(
        GaussianHMM(K, covariance_type, implementation=implementation, batch_size=33),
        start,
    )
    assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=RTOL)
    log_prob, posteriors = ours.score_samples(X, lengths)
    ref_log_prob, ref_posteriors = ref.score_samples(X, lengths)
    assert_allclose(log_prob, ref_log_prob, rtol=RTOL)
    assert_allclose(posteriors, ref_posteriors, rtol=RTOL, atol=1e-12)
    assert_allclose(
        ours.predict_proba(X, lengths), ref.predict_proba(X, lengths), atol=1e-12
    )
    for algorithm in ("viterbi", "map"):
        ours_lp, ours_states = ours.decode(X, lengths, algorithm=algorithm)
        ref_lp, ref_states = ref.decode(X, lengths, algorithm=algorithm)
        assert_allclose(ours_lp, ref_lp, rtol=RTOL)
        assert_array_equal(ours_states, ref_states)
    assert_array_equal(ours.predict(X, lengths), ref.predict(X, lengths))
    assert_allclose(ours.aic(X, lengths), ref.aic(X, lengths), rtol=RTOL)
    assert_allclose(ours.bic(X, lengths), ref.bic(X, lengths), rtol=RTOL)


def test_viterbi_ties_as_hmmlearn():
    # Equal emission likelihoods everywhere: every path ties.
    X = np.zeros((12, 1))
    start = {
        "startprob_": np.full(3, 1 / 3),
        "transmat_": np.full((3, 3), 1 / 3),
        "means_": np.zeros((3, 1)),
        "covars_": np.ones((3, 1)),
    }
    ref = _set(hmm.GaussianHMM(3), start)
    ours = _set(GaussianHMM(3, batch_size=5), start)
    ref_lp, ref_states = ref.decode(X, [4, 5, 3])
    lp, states = ours.decode(X, [4, 5, 3])
    assert lp == ref_lp
    assert_array_equal(states, ref_states)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_equals_hmmlearn(covariance_type):
    start = _start(covariance_type)
    ref = _set(hmm.GaussianHMM(K, covariance_type), start)
    ours = _set(GaussianHMM(K, covariance_type), start)
    X_ref, s_ref = ref.sample(20, random_state=7)
    X, s = ours.sample(20, random_state=7)
    assert_array_equal(s, s_ref)
    assert_allclose(X, X_ref, rtol=1e-12)


@pytest.mark.parametrize("kind", ["ndarray", "memmap", "path", "table"])
def test_every_source_gives_the_same_model(kind, tmp_path):
    X, lengths = _sequences(seed=8)
    start = _start("full")
    path = tmp_path / "X.npy"
    np.save(path, X)
    if kind == "memmap":
        data = np.load(path, mmap_mode="r")
    elif kind == "path":
        data = str(path)
    elif kind == "table":
        import pyarrow as pa
        import pyarrow.parquet as pq

        from sklearn_ooc.data import open_table

        table_path = tmp_path / "X.parquet"
        pq.write_table(
            pa.table({f"x{j}": X[:, j] for j in range(D)}),
            table_path,
            row_group_size=50,
        )
        data = open_table(table_path)
    else:
        data = X
    reference = _set(
        GaussianHMM(K, "full", init_params="", n_iter=4, batch_size=60), start
    ).fit(X, lengths)
    ours = _set(GaussianHMM(K, "full", init_params="", n_iter=4, batch_size=60), start)
    ours.fit(data, lengths)
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert_array_equal(getattr(ours, name), getattr(reference, name))
    assert_array_equal(ours.predict(data, lengths), reference.predict(X, lengths))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("layout", ["one", "mixed"])
def test_sequences_longer_than_a_batch_are_split_exactly(
    covariance_type, implementation, n_jobs, layout
):
    # One sequence of 300 rows in batches of 7 (43 segments), or long
    # sequences among short ones: the forward pass runs over the segments in
    # order, the backward pass in reverse, keeping one row of each between
    # batches.
    X, _ = _sequences(seed=12, n_sequences=20)
    n = len(X)
    lengths = None if layout == "one" else [10, n - 70, 5, 3, 52]
    start = _start(covariance_type)
    params = dict(
        n_components=K,
        covariance_type=covariance_type,
        init_params="",
        n_iter=4,
        tol=-np.inf,
        implementation=implementation,
    )
    ref = _set(hmm.GaussianHMM(**params), start).fit(X, lengths)
    ours = _set(GaussianHMM(**params, batch_size=7, n_jobs=n_jobs), start)
    ours.fit(X, lengths)
    _assert_same_model(ours, ref)
    assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history), rtol=RTOL)
    log_prob, posteriors = ours.score_samples(X, lengths)
    ref_log_prob, ref_posteriors = ref.score_samples(X, lengths)
    assert_allclose(log_prob, ref_log_prob, rtol=RTOL)
    assert_allclose(posteriors, ref_posteriors, rtol=RTOL, atol=1e-12)
    assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=RTOL)
    for algorithm in ("viterbi", "map"):
        ours_lp, ours_states = ours.decode(X, lengths, algorithm=algorithm)
        ref_lp, ref_states = ref.decode(X, lengths, algorithm=algorithm)
        assert_allclose(ours_lp, ref_lp, rtol=RTOL)
        assert_array_equal(ours_states, ref_states)


def test_split_viterbi_ties_as_hmmlearn():
    X = np.zeros((23, 1))
    start = {
        "startprob_": np.full(3, 1 / 3),
        "transmat_": np.full((3, 3), 1 / 3),
        "means_": np.zeros((3, 1)),
        "covars_": np.ones((3, 1)),
    }
    ref_lp, ref_states = _set(hmm.GaussianHMM(3), start).decode(X)
    lp, states = _set(GaussianHMM(3, batch_size=4), start).decode(X)
    assert lp == ref_lp
    assert_array_equal(states, ref_states)


def test_summarize_then_from_summaries_is_one_iteration():
    X, lengths = _sequences(seed=9)
    start = _start("diag")
    one = _set(GaussianHMM(K, init_params="", n_iter=1, batch_size=50), start)
    one.fit(X, lengths)
    stepwise = _set(GaussianHMM(K, init_params="", batch_size=50), start)
    cut = int(np.cumsum(lengths)[19])
    stepwise.summarize(X[:cut], lengths[:20]).summarize(X[cut:], lengths[20:])
    stepwise.from_summaries()
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert_allclose(getattr(stepwise, name), getattr(one, name), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_from_the_origin_keeps_its_digits(covariance_type):
    # Centered statistics: data at 1e8 give the model of the same data at
    # the origin, moved (hmmlearn's raw second moments would lose them).
    X, lengths = _sequences(seed=10)
    start = _start(covariance_type)
    params = dict(
        n_components=K, covariance_type=covariance_type, init_params="", n_iter=5
    )
    near = _set(hmm.GaussianHMM(**params), start).fit(X, lengths)
    moved = dict(start, means_=start["means_"] + 1e8)
    far = _set(GaussianHMM(**params, batch_size=40), moved).fit(X + 1e8, lengths)
    assert_allclose(far.transmat_, near.transmat_, rtol=1e-6, atol=1e-9)
    assert_allclose(far.means_ - 1e8, near.means_, atol=1e-6)
    assert_allclose(far.covars_, _full_covars(near), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("covariance_type", ["spherical", "diag"])
def test_means_far_from_the_data_as_hmmlearn(covariance_type):
    # Batches are summed about the current means, and again about their own
    # means when those are too far for the first sums to keep their digits.
    X, lengths = _sequences(seed=14)
    start = _start(covariance_type)
    # Wide states a thousand away: every state keeps some weight.
    start["means_"] = start["means_"] + 1000.0
    start["covars_"] = start["covars_"] * 1e6
    params = dict(
        n_components=K, covariance_type=covariance_type, init_params="", n_iter=3
    )
    ref = _set(hmm.GaussianHMM(**params), start).fit(X, lengths)
    ours = _set(GaussianHMM(**params, batch_size=50), start).fit(X, lengths)
    _assert_same_model(ours, ref)


# -- bad input -----------------------------------------------------------------


def _fitted():
    X, lengths = _sequences(seed=11)
    model = _set(
        GaussianHMM(K, init_params="", n_iter=2, batch_size=40), _start("diag")
    )
    return model.fit(X, lengths), X, lengths


def test_lengths_not_summing_to_the_rows_is_hmmlearns_error():
    model, X, lengths = _fitted()
    before = fitted_state(model)
    bad = list(lengths[:-1])
    message = f"lengths array {bad} doesn't sum to {len(X)} samples"
    with pytest.raises(ValueError, match=re.escape(message)):
        hmm.GaussianHMM(K).fit(X, bad)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.fit(X, bad)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.score(X, bad)
    assert fitted_state(model) == before


def test_empty_sequence_is_named():
    model, X, lengths = _fitted()
    before = fitted_state(model)
    bad = np.concatenate([lengths[:3], [0], lengths[3:]])
    with pytest.raises(ValueError, match=r"lengths\[3\] is 0"):
        model.fit(X, bad)
    assert fitted_state(model) == before


def test_nan_names_the_row_and_leaves_the_model_unchanged(tmp_path):
    model, X, lengths = _fitted()
    before = fitted_state(model)
    X = X.copy()
    X[137, 1] = np.nan
    path = tmp_path / "bad.npy"
    np.save(path, X)
    for data in (X, path):
        with pytest.raises(ValueError, match="NaN at row 137"):
            model.fit(data, lengths)
        assert fitted_state(model) == before
        with pytest.raises(ValueError, match="NaN at row 137"):
            model.predict(data, lengths)


def test_wrong_number_of_features_is_hmmlearns_error():
    model, X, lengths = _fitted()
    model.set_params(n_iter=1)
    before = fitted_state(model)
    with pytest.raises(ValueError, match="X has 3 features"):
        model.predict(np.ones((5, 3)))
    with pytest.raises(
        ValueError, match="Unexpected number of dimensions, got 3 but expected 2"
    ):
        model.fit(np.ones((5, 3)))
    assert fitted_state(model) == before


def test_wrong_number_of_features_with_parameters_set_by_hand():
    model = _set(GaussianHMM(K, "full"), _start("full"))
    with pytest.raises(ValueError, match="X has 3 features, but GaussianHMM is "):
        model.score(np.ones((4, 3)))


def test_scaling_underflow_is_hmmlearns_error():
    X = np.array([[0.0], [1e3]])
    start = {
        "startprob_": np.array([1.0, 0.0]),
        "transmat_": np.eye(2),
        "means_": np.array([[0.0], [1e3]]),
        "covars_": np.array([[1e-2], [1e-2]]),
    }
    ours = _set(GaussianHMM(2, implementation="scaling"), start)
    with pytest.raises(ValueError, match="forward pass failed with underflow"):
        ours.score(X)
    ref = _set(hmm.GaussianHMM(2, implementation="scaling"), start)
    with pytest.raises(ValueError, match="forward pass failed with underflow"):
        ref.score(X)


def test_bad_parameters_are_hmmlearns_errors():
    model = GaussianHMM(2)
    model.startprob_ = np.array([0.5, 0.6])
    model.transmat_ = np.full((2, 2), 0.5)
    model.means_ = np.zeros((2, 1))
    model.covars_ = np.ones((2, 1))
    with pytest.raises(ValueError, match=r"startprob_ must sum to 1 \(got 1.1000\)"):
        model.score(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="'diag' covars must be positive"):
        model.covars_ = np.zeros((2, 1))


def _unreachable_state():
    """Three states, the last one never entered: no weight, no transitions."""
    return {
        "startprob_": np.array([0.5, 0.5, 0.0]),
        "transmat_": np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.3, 0.3, 0.4]]),
        "means_": np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 5.0]]),
        "covars_": np.ones((3, 2)),
    }


def test_a_state_without_transitions_is_named_and_the_model_unchanged():
    model, X, lengths = _fitted()
    model.set_params(init_params="")
    _set(model, _unreachable_state())
    before = fitted_state(model)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Some rows of transmat_ would have zero sum: no transition out of "
            f"state(s) [2] was observed in the {len(X)} samples ({len(lengths)} "
            "sequences) of the data"
        ),
    ):
        model.fit(X, lengths)
    assert fitted_state(model) == before


def test_a_state_without_weight_is_named_and_the_model_unchanged():
    model, X, lengths = _fitted()
    model.set_params(init_params="", params="smc")
    _set(model, _unreachable_state())
    before = fitted_state(model)
    with pytest.raises(ValueError, match=r"State\(s\) \[2\] received no posterior"):
        model.fit(X, lengths)
    assert fitted_state(model) == before
    # A prior on the means defines them: hmmlearn's fit then.
    model.set_params(means_weight=1.0)
    ref = _set(
        hmm.GaussianHMM(3, init_params="", params="smc", means_weight=1.0, n_iter=2),
        _unreachable_state(),
    ).fit(X, lengths)
    _assert_same_model(model.fit(X, lengths), ref)


def test_one_sample_is_refused_with_the_model_unchanged():
    model, X, lengths = _fitted()
    before = fitted_state(model)
    with pytest.raises(ValueError, match=r"in the 1 samples \(1 sequences\)"):
        model.fit(X[:1])
    assert fitted_state(model) == before


def test_verbose_prints_hmmlearns_lines(capsys):
    X, lengths = _sequences(seed=13)
    model = _set(
        GaussianHMM(K, init_params="", n_iter=3, tol=-np.inf, verbose=True),
        _start("diag"),
    ).fit(X, lengths)
    lines = [line for line in capsys.readouterr().out.splitlines() if "." in line]
    history = list(model.monitor_.history)
    assert f"{1:>10d} {history[0]:>16.8f} {np.nan:>+16.8f}" in lines
    assert f"{2:>10d} {history[1]:>16.8f} {history[1] - history[0]:>+16.8f}" in lines


# -- kernels ---------------------------------------------------------------------


def _kernel_problem(rng, k=4, lengths=(5, 1, 9, 2)):
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    startprob = rng.dirichlet(np.ones(k))
    transmat = rng.dirichlet(np.ones(k), size=k)
    transmat[0, 1] = 0.0  # a forbidden transition
    transmat[0] /= transmat[0].sum()
    log_frame = 3 * rng.normal(size=(offsets[-1], k))
    return offsets, startprob, transmat, log_frame


@pytest.mark.parametrize("log_space", [True, False])
def test_kernels_equal_hmmlearns(log_space):
    from hmmlearn import _hmmc
    from scipy.special import logsumexp

    from sklearn_ooc._kernels import hmm_log_pass, hmm_scaling_pass

    offsets, startprob, transmat, log_frame = _kernel_problem(np.random.RandomState(0))
    n, k = log_frame.shape
    posteriors, start, trans = np.empty((n, k)), np.zeros(k), np.zeros((k, k))
    log_probs = np.empty(len(offsets) - 1)
    if log_space:
        hmm_log_pass(
            offsets, startprob, transmat, log_frame, posteriors, start, trans, log_probs
        )
    else:
        assert (
            hmm_scaling_pass(
                offsets,
                startprob,
                transmat,
                np.exp(log_frame),
                posteriors,
                start,
                trans,
                log_probs,
            )
            == -1
        )
    ref_trans = np.zeros((k, k))
    for s, (a, b) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)):
        f = log_frame[a:b]
        if log_space:
            lp, fwd = _hmmc.forward_log(startprob, transmat, f)
            bwd = _hmmc.backward_log(startprob, transmat, f)
            gamma = np.exp((fwd + bwd) - logsumexp(fwd + bwd, axis=1, keepdims=True))
            if b - a > 1:
                ref_trans += np.exp(_hmmc.compute_log_xi_sum(fwd, transmat, bwd, f))
        else:
            lp, fwd, scaling = _hmmc.forward_scaling(startprob, transmat, np.exp(f))
            bwd = _hmmc.backward_scaling(startprob, transmat, np.exp(f), scaling)
            gamma = fwd * bwd / (fwd * bwd).sum(axis=1, keepdims=True)
            if b - a > 1:
                ref_trans += _hmmc.compute_scaling_xi_sum(fwd, transmat, bwd, np.exp(f))
        assert log_probs[s] == pytest.approx(lp, rel=1e-14)
        assert_allclose(posteriors[a:b], gamma, rtol=1e-12, atol=1e-15)
    assert_allclose(trans, ref_trans, rtol=1e-12, atol=1e-15)
    assert trans[0, 1] == 0.0


@pytest.mark.parametrize("log_space", [True, False])
def test_segments_equal_the_whole_sequence(log_space):
    from sklearn_ooc._kernels import (
        hmm_log_pass,
        hmm_scaling_pass,
        hmm_segment_backward,
        hmm_segment_forward,
    )

    rng = np.random.RandomState(1)
    offsets, startprob, transmat, log_frame = _kernel_problem(rng, lengths=(23,))
    frames = log_frame if log_space else np.exp(log_frame)
    n, k = frames.shape
    whole = np.empty((n, k)), np.zeros(k), np.zeros((k, k)), np.empty(1)
    (hmm_log_pass if log_space else hmm_scaling_pass)(
        offsets, startprob, transmat, frames, *whole
    )
    cuts = [0, 5, 6, 14, 23]
    carries, carry, log_prob = [], np.zeros(k), 0.0
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        fwd, scaling = np.empty((b - a, k)), np.empty(b - a)
        carries.append(carry)
        value = hmm_segment_forward(
            startprob, transmat, frames[a:b], carry, a == 0, log_space, fwd, scaling
        )
        log_prob = value if log_space else log_prob + value
        carry = fwd[-1].copy()
    assert log_prob == pytest.approx(whole[3][0], rel=1e-14)
    posteriors = np.empty((n, k))
    trans = np.full((k, k), -np.inf) if log_space else np.zeros((k, k))
    ahead_frame, ahead_bwd = np.zeros(k), np.zeros(k)
    for s in range(len(cuts) - 2, -1, -1):
        a, b = cuts[s], cuts[s + 1]
        fwd, scaling = np.empty((b - a, k)), np.empty(b - a)
        hmm_segment_forward(
            startprob,
            transmat,
            frames[a:b],
            carries[s],
            a == 0,
            log_space,
            fwd,
            scaling,
        )
        bwd = np.empty((b - a, k))
        hmm_segment_backward(
            transmat,
            frames[a:b],
            fwd,
            scaling,
            b == n,
            ahead_frame,
            ahead_bwd,
            log_space,
            log_prob,
            posteriors[a:b],
            trans,
            bwd,
        )
        ahead_frame, ahead_bwd = frames[a].copy(), bwd[0].copy()
    if log_space:
        trans = np.exp(trans)
    assert_allclose(posteriors, whole[0], rtol=1e-12, atol=1e-15)
    assert_allclose(trans, whole[2], rtol=1e-12)


def test_kernels_refuse_sizes_that_disagree():
    from sklearn_ooc._kernels import hmm_log_pass, hmm_viterbi, sequence_batches

    offsets, startprob, transmat, log_frame = _kernel_problem(np.random.RandomState(2))
    n, k = log_frame.shape
    good = [np.empty((n, k)), np.zeros(k), np.zeros((k, k)), np.empty(4)]
    for i, bad in enumerate(
        [np.empty((n - 1, k)), np.zeros(k + 1), np.zeros((k, k - 1)), np.empty(3)]
    ):
        args = list(good)
        args[i] = bad
        with pytest.raises(ValueError):
            hmm_log_pass(offsets, startprob, transmat, log_frame, *args)
    with pytest.raises(ValueError, match="offsets"):
        hmm_viterbi(
            offsets[:-1],
            startprob,
            transmat,
            log_frame,
            np.empty(n, np.int64),
            np.empty(3),
        )
    with pytest.raises(ValueError, match="at least one row"):
        sequence_batches(np.array([3, 0, 2]), 4)


@pytest.mark.parametrize("batch_size", [4, 1000])
def test_rows_whose_likely_state_is_forbidden_fall_back_to_log_space(batch_size):
    # State 1 explains rows at 40 far better (by e^800), but no sequence can
    # reach it: divided by their largest, state 0's likelihoods underflow to
    # zero, and the scaled recursions fail; log space does not.
    X = np.array([[0.0], [1.0], [40.0], [0.5], [40.0], [-1.0], [0.2], [0.1]] * 2)
    start = {
        "startprob_": np.array([1.0, 0.0]),
        "transmat_": np.array([[1.0, 0.0], [0.5, 0.5]]),
        "means_": np.array([[0.0], [40.0]]),
        "covars_": np.array([[1.0], [1.0]]),
    }
    params = dict(n_components=2, init_params="", params="m", n_iter=2, tol=-np.inf)
    params["means_weight"] = 1.0
    ref = _set(hmm.GaussianHMM(**params), start)
    ours = _set(GaussianHMM(**params, batch_size=batch_size), start)
    scaled = _set(GaussianHMM(**params, batch_size=batch_size), start)
    with pytest.raises(ValueError, match="forward pass failed with underflow"):
        scaled.set_params(implementation="scaling").score(X, [8, 8])
    log_prob, posteriors = ours.score_samples(X, [8, 8])
    ref_log_prob, ref_posteriors = ref.score_samples(X, [8, 8])
    assert np.isfinite(log_prob) and log_prob < -1500
    assert_allclose(log_prob, ref_log_prob, rtol=RTOL)
    assert_allclose(posteriors, ref_posteriors, rtol=RTOL, atol=1e-12)
    ref.fit(X, [8, 8])
    ours.fit(X, [8, 8])
    assert_allclose(ours.means_, ref.means_, rtol=RTOL)
    assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history), rtol=RTOL)


def test_an_epoch_of_one_batch_is_an_iteration_on_its_sequences():
    # Minibatch EM: each iteration reads one batch of whole sequences and
    # updates from its expected counts alone (decay=None), with the priors
    # weighing as in a fit on those sequences.
    from sklearn_ooc.data import SequenceSource

    X, lengths = _sequences(seed=10)
    start = _start("diag")
    params = dict(n_components=K, init_params="", tol=-np.inf, covars_prior=0.05)
    minibatch = _set(
        GaussianHMM(**params, n_iter=2, batch_size=100, batches_per_epoch=1), start
    ).fit(X, lengths)
    source = SequenceSource(X, lengths, batch_size=100)
    model = _set(GaussianHMM(**params, n_iter=1), start)
    for index in (0, 1):
        first, stop, _ = source.sequences(index)
        a, b = source.bounds(index)
        model.fit(X[a:b], lengths[first:stop])
        model.init_params = ""
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert_allclose(getattr(minibatch, name), getattr(model, name), rtol=1e-12)


def test_partial_fit_with_decay_keeps_a_running_average_of_the_counts():
    X, lengths = _sequences(seed=11)
    cut = int(np.cumsum(lengths)[19])
    parts = [(X[:cut], lengths[:20]), (X[cut:], lengths[20:])]
    start = _start("diag")
    model = _set(GaussianHMM(K, init_params="", decay=0.7, batch_size=50), start)
    model.partial_fit(*parts[0])
    first = model._running_stats
    second = model._pass(
        model._source(*parts[1], reset=False),
        range(model._source(*parts[1], reset=False).n_batches),
        model._engine(),
        "check",
    )
    rho = 3.0**-0.7
    expected = first.scaled(1 - rho) + second.scaled(rho / second.count)
    model.partial_fit(*parts[1])
    assert_allclose(model._running_stats.trans, expected.trans, rtol=1e-12)
    assert_allclose(model._running_stats.emissions.mean, expected.emissions.mean)
    # The M-step sees the average in rows of this update (the priors weigh
    # as in a fit on them): transmat_ is the normalized average of the counts.
    transmat = expected.trans / expected.trans.sum(axis=1, keepdims=True)
    assert_allclose(model.transmat_, transmat, rtol=1e-10)
    # Without decay, partial_fit is one Baum-Welch update from X alone.
    once = _set(GaussianHMM(K, init_params="", n_iter=1), start).fit(*parts[1])
    alone = _set(GaussianHMM(K, init_params=""), start).partial_fit(*parts[1])
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert_allclose(getattr(alone, name), getattr(once, name), rtol=1e-12)


def test_minibatch_over_a_split_sequence_is_refused():
    X, _ = _sequences(seed=12, n_sequences=20)
    model = GaussianHMM(K, batch_size=50, batches_per_epoch=2, random_state=0)
    with pytest.raises(ValueError, match="batches_per_epoch needs batches of whole"):
        model.fit(X)
    assert not hasattr(model, "means_")


def test_out_of_core_converts_hmmlearns_models():
    from sklearn_ooc import out_of_core
    from sklearn_ooc.hmm import CategoricalHMM, PoissonHMM

    ref = hmm.GaussianHMM(K, "full", n_iter=3, tol=1e-4, random_state=0)
    ours = out_of_core(ref)
    assert type(ours) is GaussianHMM
    assert {k: v for k, v in ours.get_params().items() if k in ref.get_params()} == (
        ref.get_params()
    )
    X, lengths = _sequences(seed=13)
    start = _start("full")
    _set(ref, start).set_params(init_params="").fit(X, lengths)
    _set(ours, start).set_params(init_params="").fit(X, lengths)
    _assert_same_model(ours, ref)
    assert type(out_of_core(hmm.CategoricalHMM(2, n_features=4))) is CategoricalHMM
    assert type(out_of_core(hmm.PoissonHMM(2, lambdas_prior=1.0))) is PoissonHMM
