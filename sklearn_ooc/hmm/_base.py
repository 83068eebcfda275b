"""Hidden Markov models fitted by exact out-of-core Baum-Welch.

hmmlearn 0.3.3's ``BaseHMM`` as an :class:`~sklearn_ooc.base.IterativeMixin`:
each EM iteration is one pass over batches of whole sequences; the
forward-backward kernels give every batch's expected counts (first states,
transitions, and the emission statistics of the subclass), merged in batch
order, and hmmlearn's M-step takes the parameters from the merged counts.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
from collections import deque
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._kernels import (
    hmm_log_pass,
    hmm_scaling_pass,
    hmm_segment_backward,
    hmm_segment_forward,
    hmm_segment_viterbi_backtrack,
    hmm_segment_viterbi_forward,
    hmm_viterbi,
)
from ..base import IterativeMixin
from ..data import SequenceSource, check_batch_size, lengths_from_column

_log = logging.getLogger(__name__)

DECODER_ALGORITHMS = frozenset(("viterbi", "map"))


class _Underflow(ValueError):
    """The scaled recursions of a sequence underflowed."""


_UNDERFLOW = (
    "forward pass failed with underflow; consider using implementation='log' instead"
)


class ConvergenceMonitor:
    """hmmlearn's convergence monitor: the log-likelihood of each iteration.

    Attributes
    ----------
    tol : float
        Convergence threshold on the gain in log-likelihood.
    n_iter : int
        Maximum number of iterations.
    verbose : bool
        Whether the fit printed a line per iteration.
    history : deque
        The total log-likelihood of the data measured by each iteration,
        under the parameters the iteration started from.
    iter : int
        Iterations run.
    """

    def __init__(self, tol, n_iter, verbose):
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history = deque()
        self.iter = 0

    def __repr__(self):
        class_name = self.__class__.__name__
        params = sorted(dict(vars(self), history=list(self.history)).items())
        return (
            f"{class_name}(\n"
            + "".join(map("    {}={},\n".format, *zip(*params, strict=True)))
            + ")"
        )

    def __eq__(self, other):
        # The same record of the same fit, as pickled models compare.
        if not isinstance(other, ConvergenceMonitor):
            return NotImplemented
        return vars(self) == vars(other)

    __hash__ = None

    def _reset(self):
        self.iter = 0
        self.history.clear()

    @property
    def converged(self):
        """Whether EM stopped: ``n_iter`` reached or a gain below ``tol``."""
        return self.iter == self.n_iter or (
            len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol
        )


@dataclass
class HMMStats:
    """Expected counts of a pass of Baum-Welch over whole sequences.

    Attributes
    ----------
    count : int
        Rows (observations) summarized.
    n_sequences : int
        Sequences summarized.
    log_prob : float
        Sum of their log-likelihoods under the parameters of the pass.
    start : ndarray of shape (n_components,)
        Expected number of sequences starting in each state.
    trans : ndarray of shape (n_components, n_components)
        Expected number of transitions between each pair of states.
    emissions : object
        The emission statistics of the subclass (with ``__add__`` and
        ``scaled``), or ``None`` when no emission parameter is updated.
    """

    count: int
    n_sequences: int
    log_prob: float
    start: np.ndarray
    trans: np.ndarray
    emissions: object = None

    def scaled(self, factor):
        return HMMStats(
            self.count,
            self.n_sequences,
            self.log_prob * factor,
            self.start * factor,
            self.trans * factor,
            None if self.emissions is None else self.emissions.scaled(factor),
        )

    def __add__(self, other):
        emissions = self.emissions
        if emissions is None:
            emissions = other.emissions
        elif other.emissions is not None:
            emissions = emissions + other.emissions
        return HMMStats(
            self.count + other.count,
            self.n_sequences + other.n_sequences,
            self.log_prob + other.log_prob,
            self.start + other.start,
            self.trans + other.trans,
            emissions,
        )


def _add(total, part):
    return part if total is None else total + part


def _map_value(posteriors, offsets):
    """hmmlearn's "map" decoding value: the sum over the sequences of their
    rows' largest posterior."""
    best = posteriors.max(axis=1)
    return sum(
        float(best[a:b].sum()) for a, b in zip(offsets[:-1], offsets[1:], strict=True)
    )


def _normalize(a, axis=None):
    """hmmlearn's ``normalize``, on a copy: rows of zero sum stay zero."""
    a = np.array(a, dtype=np.float64)
    a_sum = a.sum(axis)
    if axis and a.ndim > 1:
        a_sum[a_sum == 0] = 1
        shape = list(a.shape)
        shape[axis] = 1
        a_sum.shape = shape
    a /= a_sum
    return a


class BaseHMM(IterativeMixin):
    """Start and transition probabilities, fitting, scoring and decoding.

    Subclasses give the emission model: ``_init_emissions(source)``,
    ``_check_emissions()``, ``_log_likelihood(X)`` (emission
    log-likelihoods of the rows of a batch), ``_emission_stats(X,
    posteriors, workspace)``, ``_do_mstep_emissions(stats)``,
    ``_emission_parameters`` (names of the fitted arrays),
    ``_get_n_fit_scalars_per_param()`` and ``_generate_sample_from_state``.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "startprob_prior": ["array-like", Real],
        "transmat_prior": ["array-like", Real],
        "algorithm": [StrOptions(DECODER_ALGORITHMS)],
        "random_state": ["random_state"],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Real],
        "params": [str],
        "init_params": [str],
        "implementation": [StrOptions({"log", "scaling"})],
        "batches_per_epoch": [Interval(Integral, 1, None, closed="left"), None],
        "decay": [Interval(Real, 0.5, 1.0, closed="right"), None],
        "checkpoint": [str, os.PathLike, None],
        **IterativeMixin._ooc_parameter_constraints,
    }

    # What IterativeMixin reads and an HMM does not take as parameters: one
    # initialization, no warm start (hmmlearn starts from the parameters
    # set on the model instead), every batch in every iteration.
    n_init = 1
    warm_start = False
    verbose_interval = 1
    _not_converged = None
    _accept_sparse = False
    _objective_name = "log-likelihood"
    _emission_parameters = ()

    def _check_rows(self, X):
        """``None``, or the first row of ``X`` the emission model cannot read
        and why (see :class:`~sklearn_ooc.data.SequenceSource`)."""
        return None

    @property
    def max_iter(self):
        return self.n_iter

    # -- the data ---------------------------------------------------------------

    def _source(
        self, X, y=None, sample_weight=None, *, reset, batch_size=None, fitting=False
    ):
        # The mixin's second argument is the lengths of the sequences.
        if sp.issparse(X):
            raise TypeError(
                f"{type(self).__name__} does not accept sparse input: pass a dense "
                "array, a memory map or a .npy file"
            )
        if batch_size is None:
            batch_size = self.batch_size
        # lengths may name a column of sequence ids of a table.
        X, y = lengths_from_column(X, y)
        source = SequenceSource(
            X, y, batch_size=check_batch_size(batch_size), check_rows=self._check_rows
        )
        validate_data(self, source.header, skip_check_array=True, reset=reset)
        expected = getattr(self, "n_features", None)
        if not reset and expected is not None and source.n_features != expected:
            # Parameters set by hand, never fitted: no n_features_in_ to
            # check against, but the emission parameters have a width.
            raise ValueError(
                f"X has {source.n_features} features, but {type(self).__name__} is "
                f"expecting {expected} features as input."
            )
        return source

    def _checkpoint_of(self, source, **overrides):
        # The lengths cut the same rows into other sequences: another fit.
        lengths = hashlib.sha256(source.lengths.tobytes()).hexdigest()
        return super()._checkpoint_of(source, lengths=lengths, **overrides)

    # -- parameters ---------------------------------------------------------------

    def _needs_init(self, code, name):
        if code in self.init_params:
            if hasattr(self, name):
                _log.warning(
                    "Even though the %r attribute is set, it will be overwritten "
                    "during initialization because 'init_params' contains %r",
                    name,
                    code,
                )
            return True
        return not hasattr(self, name)

    def _check_sum_1(self, name):
        s = getattr(self, name).sum(axis=-1)
        if not np.allclose(s, 1):
            raise ValueError(
                f"{name} must sum to 1 (got {s:.4f})"
                if s.ndim == 0
                else f"{name} rows must sum to 1 (got row sums of {s})"
                if s.ndim == 1
                else "Expected 1D or 2D array"
            )

    def _check(self):
        """Validate the parameters, as hmmlearn's ``_check``."""
        self.startprob_ = np.asarray(self.startprob_)
        if len(self.startprob_) != self.n_components:
            raise ValueError("startprob_ must have length n_components")
        self._check_sum_1("startprob_")
        self.transmat_ = np.asarray(self.transmat_)
        if self.transmat_.shape != (self.n_components, self.n_components):
            raise ValueError("transmat_ must have shape (n_components, n_components)")
        self._check_sum_1("transmat_")
        self._check_emissions()

    def _initialize(self, source, random_state):
        # hmmlearn's draws: a generator of its own from random_state (an int
        # seeds the same draws here as there).
        random_state = check_random_state(self.random_state)
        k = self.n_components
        init = 1.0 / k
        if self._needs_init("s", "startprob_"):
            self.startprob_ = random_state.dirichlet(np.full(k, init))
        if self._needs_init("t", "transmat_"):
            self.transmat_ = random_state.dirichlet(np.full(k, init), size=k)
        n_scalars = self._get_n_fit_scalars_per_param()
        n_fit = sum(n_scalars.get(p, 0) for p in self.params)
        size = source.n_samples * source.n_features
        if size < n_fit:
            _log.warning(
                "Fitting a model with %d free scalar parameters with only %d data "
                "points will result in a degenerate solution.",
                n_fit,
                size,
            )
        self._init_emissions(source)
        self._check()

    def _get_parameters(self):
        names = ("startprob_", "transmat_") + self._emission_parameters
        return {name: np.array(getattr(self, name), copy=True) for name in names}

    def _set_parameters(self, params):
        for name, value in params.items():
            self.__dict__[name] = np.array(value, copy=True)

    # -- one pass -----------------------------------------------------------------

    def _pass(self, source, indices, engine, desc):
        """The expected counts of all the sequences, merged in batch order.

        Batches of whole sequences are summarized on the engine's threads;
        a sequence longer than a batch by a forward pass over its segments
        in order, then a backward pass in reverse (:meth:`_split_stats`).
        """
        indices = list(indices)
        if len(indices) < source.n_batches and source.split_ranges:
            b0, b1 = source.split_ranges[0]
            first, _ = source.bounds(b0)
            _, stop = source.bounds(b1 - 1)
            raise ValueError(
                f"batches_per_epoch needs batches of whole sequences, but the "
                f"sequence of rows {first}-{stop - 1} is longer than batch_size="
                f"{source.batch_size}: raise batch_size, or leave "
                "batches_per_epoch=None (exact EM)"
            )
        self._prepare_pass()

        def summarize(batch):
            return self._summarize(batch, source)

        def whole(batch, stats):
            return stats

        return self._fold(
            source, indices, engine, summarize, whole, self._split_stats, desc
        )

    def _fold(self, source, indices, engine, per_batch, finish, per_split, desc):
        """``finish(batch, per_batch(batch))`` over the batches of whole
        sequences (on threads) and ``per_split(source, b0, b1, engine, desc)``
        over the sequences split across batches ``b0:b1``, summed in batch
        order: the same sum for every ``n_jobs``."""
        indices = list(indices)
        # A sequence split across batches belongs to the epoch that holds its
        # first batch (all of them, in exact EM).
        heads = set(indices)
        indices = [i for i in indices if not source.is_split(i)]
        # The split sequences first (each a sequential pair of passes); their
        # results wait for their place in the order.
        split = [
            (b0, per_split(source, b0, b1, engine, desc))
            for b0, b1 in source.split_ranges
            if b0 in heads
        ]
        total, waiting = None, 0
        for batch, result in engine.map(source, indices, per_batch, desc=desc):
            while waiting < len(split) and split[waiting][0] < batch.index:
                total = _add(total, split[waiting][1])
                waiting += 1
            total = _add(total, finish(batch, result))
        for _, result in split[waiting:]:
            total = _add(total, result)
        return total

    def _frames(self, X):
        """Emission log-likelihoods (log) or likelihoods (scaling) of rows."""
        log_frame = self._log_likelihood(X)
        if self.implementation == "log":
            return log_frame
        with np.errstate(under="ignore"):
            return np.exp(log_frame)

    def _probabilities(self):
        return (
            np.ascontiguousarray(self.startprob_, dtype=np.float64),
            np.ascontiguousarray(self.transmat_, dtype=np.float64),
        )

    def _sequential(self, engine):
        """An engine like ``engine`` that runs its work on this thread, in
        order (the reads still go ahead on threads)."""
        sequential = copy.copy(engine)
        sequential.n_jobs = 1
        return sequential

    def _segment_frames(self, batch, fast):
        """The frames of a segment and the log of the factor they were divided
        by: with ``fast``, each row's likelihoods divided by the largest."""
        X = batch.X.astype(np.float64, copy=False)
        if not fast:
            return self._frames(X), 0.0
        log_frame = self._log_likelihood(X)
        largest = log_frame.max(axis=1)
        if not np.isfinite(largest).all():
            raise _Underflow(_UNDERFLOW)
        with np.errstate(under="ignore"):
            return np.exp(log_frame - largest[:, np.newaxis]), float(largest.sum())

    def _split(self, source, b0, b1, engine, desc, visit):
        """Forward then backward over the segments ``b0:b1`` of one sequence.

        Returns its log-likelihood, expected transitions and what ``visit``
        returned for each segment (last first; no backward pass if
        ``visit`` is ``None``). In log space the scaled recursions run first
        on each row's likelihoods divided by the largest (k exponentials a
        row instead of 4 k^2); if they underflow, the sequence is taken
        again in log space.
        """
        fast = self.implementation == "log"
        while True:
            try:
                carries, log_prob = self._segments_forward(
                    source, b0, b1, engine, desc, fast
                )
                if visit is None:
                    return log_prob, None, []
                trans, results = self._segments_backward(
                    source, b0, b1, engine, desc, carries, log_prob, visit, fast
                )
                return log_prob, trans, results
            except _Underflow:
                fast = False

    def _segments_forward(self, source, b0, b1, engine, desc, fast):
        """Forward pass over the segments ``b0:b1`` of a long sequence.

        Returns the forward row entering each segment (all that the backward
        pass needs to recompute the segment's forward rows) and the
        sequence's log-likelihood. ``fast``: the scaled recursions on each
        row's likelihoods divided by the largest (see :meth:`_split`); they
        raise :class:`_Underflow` where they underflow.
        """
        k = self.n_components
        log_space = self.implementation == "log" and not fast
        startprob, transmat = self._probabilities()
        carries = []
        state = {"carry": np.zeros(k), "log_prob": 0.0}

        def forward(batch):
            frames, shift = self._segment_frames(batch, fast)
            fwd = np.empty(frames.shape)
            scaling = np.empty(frames.shape[0])
            carries.append(state["carry"])
            value = hmm_segment_forward(
                startprob,
                transmat,
                frames,
                state["carry"],
                batch.index == b0,
                log_space,
                fwd,
                scaling,
            )
            if log_space:
                state["log_prob"] = value
            elif np.isnan(value):
                raise _Underflow(_UNDERFLOW) if fast else ValueError(_UNDERFLOW)
            else:
                state["log_prob"] += value + shift
            state["carry"] = fwd[-1].copy()

        for _ in self._sequential(engine).map(
            source, range(b0, b1), forward, desc=f"{desc} (forward)"
        ):
            pass
        return carries, float(state["log_prob"])

    def _segments_backward(
        self, source, b0, b1, engine, desc, carries, log_prob, visit, fast
    ):
        """Backward pass over the segments ``b0:b1``, last first.

        Calls ``visit(batch, X, posteriors)`` on every segment and returns
        the expected transition counts of the sequence and the list of what
        ``visit`` returned (last segment first).
        """
        k = self.n_components
        log_space = self.implementation == "log" and not fast
        startprob, transmat = self._probabilities()
        trans = np.full((k, k), -np.inf) if log_space else np.zeros((k, k))
        ahead = {"frame": np.zeros(k), "bwd": np.zeros(k)}

        def backward(batch):
            X = batch.X.astype(np.float64, copy=False)
            frames, _ = self._segment_frames(batch, fast)
            n = frames.shape[0]
            fwd, scaling = np.empty((n, k)), np.empty(n)
            hmm_segment_forward(
                startprob,
                transmat,
                frames,
                carries[batch.index - b0],
                batch.index == b0,
                log_space,
                fwd,
                scaling,
            )
            bwd, posteriors = np.empty((n, k)), np.empty((n, k))
            hmm_segment_backward(
                transmat,
                frames,
                fwd,
                scaling,
                batch.index == b1 - 1,
                ahead["frame"],
                ahead["bwd"],
                log_space,
                log_prob,
                posteriors,
                trans,
                bwd,
            )
            ahead["frame"], ahead["bwd"] = frames[0].copy(), bwd[0].copy()
            return visit(batch, X, posteriors)

        results = [
            result
            for _, result in self._sequential(engine).map(
                source, range(b1 - 1, b0 - 1, -1), backward, desc=f"{desc} (backward)"
            )
        ]
        if log_space:
            with np.errstate(under="ignore"):
                trans = np.exp(trans)
        return trans, results

    def _split_stats(self, source, b0, b1, engine, desc):
        """The expected counts of one sequence split across batches ``b0:b1``."""
        start = np.zeros(self.n_components)

        def visit(batch, X, posteriors):
            if batch.index == b0:
                start[:] = posteriors[0]
            return self._emission_stats(X, posteriors, batch.workspace)

        log_prob, trans, emissions = self._split(source, b0, b1, engine, desc, visit)
        total = None
        for part in emissions:
            total = _add(total, part)
        rows = int(source.bounds(b1 - 1)[1] - source.bounds(b0)[0])
        return HMMStats(rows, 1, log_prob, start, trans, total)

    def _forward_backward(self, X, offsets):
        """Posteriors, start and transition counts, and the log-likelihood of
        each sequence of a batch of whole sequences."""
        k = self.n_components
        frames = self._frames(X)
        n = X.shape[0]
        posteriors = np.empty((n, k))
        start = np.zeros(k)
        trans = np.zeros((k, k))
        log_probs = np.empty(len(offsets) - 1)
        startprob, transmat = self._probabilities()
        if self.implementation == "log":
            hmm_log_pass(
                offsets,
                startprob,
                transmat,
                frames,
                posteriors,
                start,
                trans,
                log_probs,
            )
        else:
            failed = hmm_scaling_pass(
                offsets,
                startprob,
                transmat,
                frames,
                posteriors,
                start,
                trans,
                log_probs,
            )
            if failed >= 0:
                raise ValueError(_UNDERFLOW)
        return posteriors, start, trans, log_probs

    def _summarize(self, batch, source):
        first, stop, offsets = source.sequences(batch.index)
        X = batch.X.astype(np.float64, copy=False)
        posteriors, start, trans, log_probs = self._forward_backward(X, offsets)
        emissions = self._emission_stats(X, posteriors, batch.workspace)
        return HMMStats(
            batch.n_samples,
            stop - first,
            float(log_probs.sum()),
            start,
            trans,
            emissions,
        )

    def _stepwise(self, stats):
        # The running average is kept per row (the mixin's); the M-step gets
        # it in the units of this update's rows, so that the priors weigh as
        # much against it as against the counts of a fit on those rows.
        return super()._stepwise(stats).scaled(stats.count)

    def _objective(self, stats):
        # hmmlearn's lower bound: the total log-likelihood of the data.
        return stats.log_prob

    def _has_converged(self, change):
        return change < self.tol

    def _from_summaries(self, stats):
        """hmmlearn's M-step on the merged counts (new arrays, never in place).

        Where hmmlearn goes on with a model it cannot use (a row of
        ``transmat_`` or ``startprob_`` of zero sum, a state without weight
        and hence without a mean), this raises, naming the states, and the
        fit is undone.
        """
        where = f"the {stats.count} samples ({stats.n_sequences} sequences) of the data"
        if "s" in self.params:
            startprob = np.maximum(self.startprob_prior - 1 + stats.start, 0)
            startprob = np.where(self.startprob_ == 0, 0, startprob)
            if not startprob.sum() > 0:
                raise ValueError(
                    f"startprob_ would have zero sum: no sequence of {where} "
                    "starts in a state that startprob_ and startprob_prior allow; "
                    "raise startprob_prior"
                )
            self.startprob_ = _normalize(startprob)
        if "t" in self.params:
            transmat = np.maximum(self.transmat_prior - 1 + stats.trans, 0)
            transmat = np.where(self.transmat_ == 0, 0, transmat)
            empty = np.flatnonzero(~(transmat.sum(axis=1) > 0))
            if empty.size:
                raise ValueError(
                    f"Some rows of transmat_ would have zero sum: no transition out "
                    f"of state(s) {empty.tolist()} was observed in {where}; use "
                    "longer sequences, fewer states or a transmat_prior above 1"
                )
            self.transmat_ = _normalize(transmat, axis=1)
        if stats.emissions is not None:
            self._do_mstep_emissions(stats.emissions, where)

    # -- reports -------------------------------------------------------------------

    def _report(self, engine, n_iter, lower_bound, change, rows, seconds):
        if not self.verbose:
            return
        delta = change if np.isfinite(change) else np.nan
        engine.log(f"{n_iter:>10d} {lower_bound:>16.8f} {delta:>+16.8f}")
        precision = np.finfo(float).eps ** 0.5
        if np.isfinite(change) and change < -precision:
            _log.warning(
                "Model is not converging.  Current: %s is not greater than %s. "
                "Delta is %s",
                lower_bound,
                lower_bound - change,
                change,
            )

    def _report_total(self, engine, improvement):
        # The history holds total log-likelihoods: their difference is the
        # improvement, not rows times it.
        engine.log(f"Total Improvement: {improvement:.6g}")

    # -- fitting -------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, lengths=None, *, batch_size=None, batches_per_epoch=None):
        """Estimate the parameters by Baum-Welch, one pass per iteration.

        Parameters set on the model (``startprob_``, ``transmat_``, ...) are
        the start of EM for the codes missing from ``init_params``, as in
        hmmlearn; the others are initialized (see the class docstring).

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, array store or table of \
                shape (n_samples, n_features)
            Observations, the sequences one after the other; a path names a
            ``.npy`` file. Rows are read one batch of whole sequences at a
            time.
        lengths : array-like of int of shape (n_sequences,), default=None
            Rows of each sequence, the path of a ``.npy`` file of them, or
            the column of a table ``X`` holding each row's sequence id
            (consecutive rows of one id are a sequence); they sum to
            ``n_samples``. ``None``: one sequence.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.
        batches_per_epoch : int, default=None
            Batches per EM iteration for this call; ``None`` keeps the
            constructor's.

        Returns
        -------
        self : object
            The fitted model.
        """
        self._fit_iterations(X, lengths, None, batch_size, batches_per_epoch)
        monitor = ConvergenceMonitor(self.tol, self.n_iter, self.verbose)
        monitor.history.extend(self.lower_bounds_)
        monitor.iter = self.n_iter_
        self.monitor_ = monitor
        return self

    def summarize(self, X, lengths=None):
        """Accumulate the expected counts of ``X`` under the current parameters.

        ``summarize`` over consecutive groups of whole sequences, then
        :meth:`from_summaries`, is one Baum-Welch iteration over all of them.
        An unfitted model is first initialized from ``X``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Observations.
        lengths : array-like of int, default=None
            Rows of each sequence, the path of a ``.npy`` file of them, or
            the column of a table ``X`` holding each row's sequence id.

        Returns
        -------
        self : object
            The model, with pending statistics.
        """
        return super().summarize(X, lengths)

    def partial_fit(self, X, lengths=None):
        """One Baum-Welch update from the sequences of ``X`` alone.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Observations.
        lengths : array-like of int, default=None
            Rows of each sequence, the path of a ``.npy`` file of them, or
            the column of a table ``X`` holding each row's sequence id.

        Returns
        -------
        self : object
            The updated model.
        """
        return super().partial_fit(X, lengths)

    # -- inference -----------------------------------------------------------------

    def _checked(self):
        check_is_fitted(self, "startprob_")
        self._check()

    def _sequence_map(self, X, lengths, per_batch, per_split, row_shape, dtype, desc):
        """One streamed pass for inference.

        ``per_batch(X, offsets)`` on a batch of whole sequences returns a
        value and its rows' results (or ``None``);
        ``per_split(source, b0, b1, engine, out)`` on a split sequence
        returns a value and writes its rows' results into ``out`` (if not
        ``None``). Returns the sum of the values, in batch order, and the
        rows' results.
        """
        source = self._source(X, lengths, reset=False)
        engine = self._engine()
        out = None
        if row_shape is not None:
            out = np.empty((source.n_samples,) + row_shape, dtype=dtype)

        def batch_value(batch):
            return per_batch(
                batch.X.astype(np.float64, copy=False), source.sequences(batch.index)[2]
            )

        def finish(batch, result):
            value, rows = result
            if out is not None:
                out[batch.start : batch.stop] = rows
            return value

        def split_value(source, b0, b1, engine, desc):
            return per_split(source, b0, b1, engine, out)

        total = self._fold(
            source,
            range(source.n_batches),
            engine,
            batch_value,
            finish,
            split_value,
            desc,
        )
        return float(total), out

    def _score(self, X, lengths, compute_posteriors):
        self._checked()

        def score_batch(X, offsets):
            posteriors, _, _, log_probs = self._forward_backward(X, offsets)
            return float(log_probs.sum()), posteriors if compute_posteriors else None

        def score_split(source, b0, b1, engine, out):
            if out is None:
                return self._split(source, b0, b1, engine, "score", None)[0]

            def visit(batch, X, posteriors):
                out[batch.start : batch.stop] = posteriors

            return self._split(source, b0, b1, engine, "score", visit)[0]

        return self._sequence_map(
            X,
            lengths,
            score_batch,
            score_split,
            (self.n_components,) if compute_posteriors else None,
            np.float64,
            "score",
        )

    def score_samples(self, X, lengths=None):
        """Log-likelihood of ``X`` and the state posteriors of its rows.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Observations.
        lengths : array-like of int of shape (n_sequences,), default=None
            Rows of each sequence, the path of a ``.npy`` file of them, or
            the column of a table ``X`` holding each row's sequence id.

        Returns
        -------
        log_prob : float
            Log-likelihood of ``X``.
        posteriors : ndarray of shape (n_samples, n_components)
            State-membership probabilities of every row.
        """
        return self._score(X, lengths, True)

    def score(self, X, lengths=None):
        """Log-likelihood of ``X`` under the model, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Observations.
        lengths : array-like of int of shape (n_sequences,), default=None
            Rows of each sequence, the path of a ``.npy`` file of them, or
            the column of a table ``X`` holding each row's sequence id.

        Returns
        -------
        log_prob : float
            Log-likelihood of ``X`` (the sum over its sequences).
        """
        return self._score(X, lengths, False)[0]

    def predict_proba(self, X, lengths=None):
        """Posterior probability of every state for every row.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Observations.
        lengths : array-like of int of shape (n_sequences,), default=None
            Rows of each sequence, the path of a ``.npy`` file of them, or
            the column of a table ``X`` holding each row's sequence id.

        Returns
        -------
        posteriors : ndarray of shape (n_samples, n_components)
        """
        return self.score_samples(X, lengths)[1]

    def decode(self, X, lengths=None, algorithm=None):
        """Most likely state sequence of ``X``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Observations.
        lengths : array-like of int of shape (n_sequences,), default=None
            Rows of each sequence, the path of a ``.npy`` file of them, or
            the column of a table ``X`` holding each row's sequence id.
        algorithm : {"viterbi", "map"}, default=None
            "viterbi": the most likely path given all the observations;
            "map": the most likely state of each row. ``None``: the
            ``algorithm`` of the model.

        Returns
        -------
        log_prob : float
            Log-probability of the path ("viterbi"), or the sum of the
            largest posterior of every row ("map").
        state_sequence : ndarray of shape (n_samples,)
            The state of every row.
        """
        self._checked()
        algorithm = algorithm or self.algorithm
        if algorithm not in DECODER_ALGORITHMS:
            raise ValueError(f"Unknown decoder {algorithm!r}")
        startprob, transmat = self._probabilities()
        k = self.n_components

        def viterbi(X, offsets):
            states = np.empty(X.shape[0], dtype=np.int64)
            log_probs = np.empty(len(offsets) - 1)
            hmm_viterbi(
                offsets,
                startprob,
                transmat,
                self._log_likelihood(X),
                states,
                log_probs,
            )
            return float(log_probs.sum()), states

        def viterbi_split(source, b0, b1, engine, out):
            carries = []
            carry = {"scores": np.zeros(k), "state": 0, "log_prob": np.nan}

            def lattice_of(batch, carry_in):
                log_frame = self._log_likelihood(batch.X.astype(np.float64, copy=False))
                lattice = np.empty(log_frame.shape)
                hmm_segment_viterbi_forward(
                    startprob,
                    transmat,
                    log_frame,
                    carry_in,
                    batch.index == b0,
                    lattice,
                )
                return lattice

            def forward(batch):
                carries.append(carry["scores"])
                carry["scores"] = lattice_of(batch, carry["scores"])[-1].copy()

            def backtrack(batch):
                lattice = lattice_of(batch, carries[batch.index - b0])
                states = np.empty(batch.n_samples, dtype=np.int64)
                last = batch.index == b1 - 1
                value = hmm_segment_viterbi_backtrack(
                    transmat, lattice, last, carry["state"], states
                )
                if last:
                    carry["log_prob"] = value
                carry["state"] = int(states[0])
                out[batch.start : batch.stop] = states

            sequential = self._sequential(engine)
            for _ in sequential.map(source, range(b0, b1), forward, desc="decode"):
                pass
            for _ in sequential.map(
                source, range(b1 - 1, b0 - 1, -1), backtrack, desc="decode"
            ):
                pass
            return float(carry["log_prob"])

        def map_states(X, offsets):
            posteriors = self._forward_backward(X, offsets)[0]
            return _map_value(posteriors, offsets), posteriors.argmax(axis=1)

        def map_split(source, b0, b1, engine, out):
            def visit(batch, X, posteriors):
                out[batch.start : batch.stop] = posteriors.argmax(axis=1)
                return float(posteriors.max(axis=1).sum())

            _, _, values = self._split(source, b0, b1, engine, "decode", visit)
            return float(sum(reversed(values)))

        if algorithm == "viterbi":
            per_batch, per_split = viterbi, viterbi_split
        else:
            per_batch, per_split = map_states, map_split
        return self._sequence_map(
            X, lengths, per_batch, per_split, (), np.int64, "decode"
        )

    def predict(self, X, lengths=None):
        """Most likely state of every row (by ``algorithm``, Viterbi by default).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Observations.
        lengths : array-like of int of shape (n_sequences,), default=None
            Rows of each sequence, the path of a ``.npy`` file of them, or
            the column of a table ``X`` holding each row's sequence id.

        Returns
        -------
        state_sequence : ndarray of shape (n_samples,)
        """
        return self.decode(X, lengths)[1]

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Draw observations and their states from the model (hmmlearn's draws).

        Parameters
        ----------
        n_samples : int, default=1
            Rows to draw.
        random_state : int, RandomState instance or None, default=None
            Generator; ``None`` uses the model's ``random_state``.
        currstate : int, default=None
            State of the first row; drawn from ``startprob_`` if ``None``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Observations.
        state_sequence : ndarray of shape (n_samples,)
            Their states.
        """
        self._checked()
        if random_state is None:
            random_state = self.random_state
        random_state = check_random_state(random_state)
        transmat_cdf = np.cumsum(self.transmat_, axis=1)
        if currstate is None:
            startprob_cdf = np.cumsum(self.startprob_)
            currstate = (startprob_cdf > random_state.rand()).argmax()
        state_sequence = [currstate]
        X = [self._generate_sample_from_state(currstate, random_state)]
        for _ in range(n_samples - 1):
            currstate = (transmat_cdf[currstate] > random_state.rand()).argmax()
            state_sequence.append(currstate)
            X.append(self._generate_sample_from_state(currstate, random_state))
        return np.atleast_2d(X), np.array(state_sequence, dtype=int)

    def get_stationary_distribution(self):
        """Stationary distribution of the states (left eigenvector of
        ``transmat_`` for the eigenvalue 1).

        Returns
        -------
        ndarray of shape (n_components,)
        """
        check_is_fitted(self, "transmat_")
        eigvals, eigvecs = linalg.eig(self.transmat_.T)
        eigvec = np.real_if_close(eigvecs[:, np.argmax(eigvals)])
        return eigvec / eigvec.sum()

    def aic(self, X, lengths=None):
        """Akaike information criterion of the model on ``X``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Observations.
        lengths : array-like of int, default=None
            Rows of each sequence, the path of a ``.npy`` file of them, or
            the column of a table ``X`` holding each row's sequence id.

        Returns
        -------
        float
            ``-2 log L + 2 n_params``; lower is better.
        """
        n_params = sum(self._get_n_fit_scalars_per_param().values())
        return -2 * self.score(X, lengths) + 2 * n_params

    def bic(self, X, lengths=None):
        """Bayesian information criterion of the model on ``X``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Observations.
        lengths : array-like of int, default=None
            Rows of each sequence, the path of a ``.npy`` file of them, or
            the column of a table ``X`` holding each row's sequence id.

        Returns
        -------
        float
            ``-2 log L + n_params log(n_samples)``; lower is better.
        """
        n_params = sum(self._get_n_fit_scalars_per_param().values())
        source = self._source(X, lengths, reset=False)
        return -2 * self.score(X, lengths) + n_params * np.log(source.n_samples)
