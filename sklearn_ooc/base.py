"""The mixins that turn sufficient statistics into scikit-learn estimators.

An estimator writes three small hooks:

``_summarize(batch)``
    the statistics of one :class:`~sklearn_ooc.data.Batch` under the current
    parameters (pure: it changes nothing on the estimator);
``_from_summaries(stats)``
    set the fitted attributes from merged statistics;
``_predict_batch(X)`` (predictors)
    the prediction for the rows of one batch.

The mixins own everything else: opening the data, batching, the passes over
it (through the :class:`~sklearn_ooc._engine.Engine`), ``fit``,
``partial_fit``, ``summarize``/``from_summaries``, streamed ``predict`` and
``score``, and the guarantee that a call that fails leaves the estimator as it
was before the call.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassNamePrefixFeaturesOutMixin, _fit_context
from sklearn.exceptions import (
    ConvergenceWarning,
    DataConversionWarning,
    UndefinedMetricWarning,
)
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from ._engine import Engine, Timer
from ._stats import RegressionScore
from .data import BatchSource, EpochPlan, check_batch_size, open_rows

# The checkpoints opened in the innermost transaction of this thread: its end
# finishes their checks of the data (see OutOfCoreMixin._transaction).
_open_checkpoints = contextvars.ContextVar("sklearn_ooc_open_checkpoints")


def _same_file(a, b):
    """Whether two paths name one file (by name, link or inode)."""
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, TypeError, ValueError):
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


class OutOfCoreMixin:
    """Data access, engine and transactional state for out-of-core estimators.

    Subclasses set ``_requires_y`` (supervised) and ``_y_numeric``
    (regression targets must be finite numbers).
    """

    _requires_y = False
    #: Whether ``_summarize`` returns statistics (with an ``is_finite``
    #: method) that are never finite for a batch with a NaN or an infinity
    #: in ``X``, or raises: moments, where each value enters its column's sum
    #: of squares. The batches' ``X`` are then checked for NaN and infinity
    #: only where they are not finite, not as they are read (one pass over
    #: the rows less; see :meth:`Engine.map`).
    _summaries_reveal_nonfinite = False
    _y_numeric = True
    _accept_sparse = True
    # Estimators of one target per row warn about a column y, as scikit-learn.
    _single_target = False

    _ooc_parameter_constraints: dict = {
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Sparse rows are densified one batch at a time.
        tags.input_tags.sparse = self._accept_sparse
        if self._requires_y:
            tags.target_tags.required = True
        return tags

    def __sklearn_is_fitted__(self):
        return getattr(self, "_is_fitted", False)

    def _engine(self):
        return Engine(
            n_jobs=self.n_jobs, verbose=self.verbose, name=type(self).__name__
        )

    def _source(
        self, X, y=None, sample_weight=None, *, reset, batch_size=None, fitting=False
    ):
        """Open ``X`` (and ``y``, ``sample_weight``) as a :class:`BatchSource`.

        Also records (``reset=True``) or checks (``reset=False``) the number
        and names of the features, as scikit-learn's ``validate_data`` does,
        without reading any row. ``fitting`` calls of supervised estimators
        need ``y``.
        """
        if self._requires_y and y is None and fitting:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        if sp.issparse(X) and not self._accept_sparse:
            raise TypeError(
                f"{type(self).__name__} does not accept sparse input: pass a dense "
                "array, a memory map or a .npy file"
            )
        if batch_size is None:
            batch_size = getattr(self, "batch_size", "auto")
        source = BatchSource(
            X,
            y,
            sample_weight,
            batch_size=check_batch_size(batch_size),
            y_numeric=self._y_numeric,
            allow_nan=get_tags(self).input_tags.allow_nan,
        )
        validate_data(self, source.header, skip_check_array=True, reset=reset)
        if self._single_target and source.y is not None and len(source.y.shape) == 2:
            if source.y.shape[1] != 1:
                raise ValueError(
                    f"y must be 1-D (one target per row), got shape {source.y.shape}"
                )
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please "
                "change the shape of y to (n_samples, ), for example using ravel().",
                DataConversionWarning,
                stacklevel=3,
            )
        return source

    @contextmanager
    def _transaction(self):
        """Restore every attribute if the block fails (or is interrupted).

        Hooks assign new objects to attributes and never modify fitted arrays
        in place, so a shallow copy of ``__dict__`` is a full snapshot.

        The checkpoints opened in the block (:meth:`_checkpoint_of`) finish
        their checks of the data when it ends: a fit resumed from the
        checkpoint of other data fails there, and is undone, rather than
        return a model of that other data.
        """
        saved = dict(self.__dict__)
        opened = []
        token = _open_checkpoints.set(opened)
        try:
            yield
            for checkpoint in opened:
                checkpoint.close()
        except BaseException:
            for checkpoint in opened:
                checkpoint.close(verify=False)
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        finally:
            _open_checkpoints.reset(token)

    def _checkpoint_of(self, source, *, start=None, **overrides):
        """The checkpoint of this fit (None without ``checkpoint``).

        Parameters
        ----------
        source : BatchSource
            The data of the fit; its batches are digested as the passes over
            it read them.
        start : object, default=None
            The fitted state a warm start begins from (part of the
            fingerprint: another start is another fit).
        **overrides
            The parameters given to this call of ``fit``
            (``batches_per_epoch=...``); the batch size is the source's.

        Returns
        -------
        Checkpoint or None
            Opened inside :meth:`_transaction`, whose end finishes its checks
            of the data; opened outside one, it checks every batch when it
            loads a state.
        """
        path = getattr(self, "checkpoint", None)
        if path is None:
            return None
        from ._checkpoint import Checkpoint, data_identity, params_fingerprint

        for guard in getattr(source, "_guards", ()):
            if _same_file(path, guard.path):
                raise ValueError(
                    f"checkpoint {os.fspath(path)!r} is the data file "
                    f"{os.fspath(guard.path)!r} of this fit; point checkpoint to "
                    "another file (the data is left as it is)"
                )

        # What does not change the result does not change the fingerprint:
        # a fit may resume with other threads or verbosity, and with any
        # max_iter that the checkpoint has not passed (Checkpoint.load
        # refuses the others).
        ignored = {
            "checkpoint",
            "verbose",
            "verbose_interval",
            "n_jobs",
            "max_iter",
            "n_iter",
        }
        params = {
            k: v for k, v in self.get_params(deep=False).items() if k not in ignored
        }
        params.update(overrides, batch_size=source.batch_size, warm_start_from=start)
        opened = _open_checkpoints.get(None)
        checkpoint = Checkpoint(
            path,
            data_identity(source) + params_fingerprint(params),
            type(self).__name__,
            source,
            max_iter=getattr(self, "max_iter", None),
            verify_on_load=opened is None,
        )
        if opened is not None:
            opened.append(checkpoint)
        return checkpoint

    def _reduce(self, source, indices=None, *, desc="pass", summarize=None):
        """Sum of ``summarize`` (``_summarize`` by default) over the batches
        ``indices`` (all by default)."""
        indices = range(source.n_batches) if indices is None else list(indices)
        engine = self._engine()
        timer = Timer()
        finite_if = None
        if summarize is None and self._summaries_reveal_nonfinite:
            finite_if = _statistics_finite
        stats = engine.reduce(
            source,
            indices,
            summarize or self._summarize,
            desc=desc,
            finite_if=finite_if,
        )
        rows = sum(source.bounds(i)[1] - source.bounds(i)[0] for i in indices)
        engine.log(
            f"[{type(self).__name__}] {desc}: {rows:,} rows in {len(indices)} "
            f"batch(es) of up to {source.batch_size:,} rows, {timer.total:.2f} s"
        )
        return stats

    def _map_rows(self, X, func, *, desc="predict"):
        """``func(batch)`` over the batches of ``X``, stacked in row order."""
        check_is_fitted(self)
        source = self._source(X, reset=False)
        out = None
        for batch, result in self._engine().map(
            source, range(source.n_batches), func, desc=desc
        ):
            if out is None:
                out = np.empty((source.n_samples,) + result.shape[1:], result.dtype)
            out[batch.start : batch.stop] = result
        return out


def _statistics_finite(stats):
    return stats.is_finite()


class ClosedFormMixin(OutOfCoreMixin):
    """Estimators whose model is a closed-form function of merged statistics.

    One pass fits them exactly; ``partial_fit`` merges the new statistics into
    those of all rows seen so far, so any sequence of calls gives the model
    fitted on the concatenation.
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X, y=None, sample_weight=None, *, batch_size=None, batches_per_epoch=None
    ):
        """Fit the model from one pass over ``X``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or array store of shape \
                (n_samples, n_features)
            Training rows; a path names a ``.npy`` file. Memory maps, files and
            stores are read one batch at a time.
        y : same kinds as X, of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : same kinds as X, of shape (n_samples,), default=None
            Non-negative row weights.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.
        batches_per_epoch : int, default=None
            Fit from the first ``batches_per_epoch`` batches only; ``None``
            (all batches) gives the model of the whole data.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with self._transaction(), Engine.single_threaded_blas():
            for attr in ("_seen_stats", "_pending_stats"):
                self.__dict__.pop(attr, None)
            source = self._source(
                X, y, sample_weight, reset=True, batch_size=batch_size, fitting=True
            )
            self._prepare(source, fresh=True)
            plan = EpochPlan(source.n_batches, batches_per_epoch)
            self._fit_stats(self._reduce(source, plan.next_epoch(), desc="fit"))
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Add the rows of ``X`` to the model: exact incremental fitting.

        After any sequence of ``partial_fit`` calls the model equals ``fit``
        on the concatenation of their rows.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            New rows, of the same features as before.
        y : array-like, default=None
            Their targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Their weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first = not hasattr(self, "_seen_stats")
        if first:
            self._validate_params()
        with self._transaction(), Engine.single_threaded_blas():
            source = self._source(X, y, sample_weight, reset=first, fitting=True)
            self._prepare(source, fresh=first)
            stats = self._reduce(source, desc="partial_fit")
            self._fit_stats(stats if first else self._seen_stats + stats)
        return self

    def summarize(self, X, y=None, sample_weight=None):
        """Accumulate the statistics of ``X`` without changing the model.

        The statistics wait until :meth:`from_summaries` applies them. Calls
        on consecutive slices of a data set followed by ``from_summaries()``
        give the model that ``fit`` gives on the whole data set.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows to summarize.
        y : array-like, default=None
            Their targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Their weights.

        Returns
        -------
        self : object
            The estimator, with pending statistics.
        """
        pending = getattr(self, "_pending_stats", None)
        first = pending is None and not hasattr(self, "_seen_stats")
        if first:
            self._validate_params()
        with self._transaction():
            source = self._source(X, y, sample_weight, reset=first, fitting=True)
            self._prepare(source, fresh=first)
            stats = self._reduce(source, desc="summarize")
            self._pending_stats = stats if pending is None else pending + stats
        return self

    def from_summaries(self):
        """Fit the model from the statistics accumulated by :meth:`summarize`.

        The pending statistics are cleared.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        pending = getattr(self, "_pending_stats", None)
        if pending is None:
            raise ValueError(
                f"{type(self).__name__} has no pending statistics: call "
                "summarize(X, ...) on the data first"
            )
        with self._transaction(), Engine.single_threaded_blas():
            self._fit_stats(pending)
            del self._pending_stats
        return self

    def _prepare(self, source, fresh):
        """Before the pass over ``source``; ``fresh``: the first rows of a
        model (``fit``, or the first ``partial_fit`` or ``summarize``)."""

    def _fit_stats(self, stats):
        self._from_summaries(stats)
        self._seen_stats = stats
        self._is_fitted = True


def _counterpart_name(cls):
    """The name of the scikit-learn class that ``cls`` (or the nearest of its
    bases) is registered for with ``out_of_core``; ``cls``'s own name if none."""
    from ._out_of_core import _REGISTRY

    ours = {entry[0]: sklearn_class for sklearn_class, entry in _REGISTRY.items()}
    for klass in cls.__mro__:
        if klass in ours:
            return ours[klass].__name__
    return cls.__name__


class CounterpartFeaturesOutMixin(ClassNamePrefixFeaturesOutMixin):
    """Output feature names of a transformer, as its scikit-learn counterpart's.

    scikit-learn names the outputs of ``PCA``, ``KMeans`` and
    ``LinearDiscriminantAnalysis`` after the class (``pca0``, ``kmeans0``,
    ...); a drop-in names them after the class it replaces, the one
    registered with :func:`~sklearn_ooc.out_of_core`, so that the columns of
    a pipeline's output keep their names when the pipeline is converted.
    Subclasses set ``_n_features_out`` when fitted.
    """

    def get_feature_names_out(self, input_features=None):
        """Output feature names: the scikit-learn counterpart's class name in
        lower case, followed by the output's index (``pca0``, ``pca1``, ...).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            Transformed feature names.
        """
        check_is_fitted(self, "_n_features_out")
        _check_feature_names_in(self, input_features, generate_names=False)
        prefix = _counterpart_name(type(self)).lower()
        return np.asarray(
            [f"{prefix}{i}" for i in range(self._n_features_out)], dtype=object
        )


class StreamingRegressorMixin:
    """Streamed ``predict`` and ``score`` for regressors."""

    def predict(self, X):
        """Predict the targets of ``X``, batch by batch.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows to predict; out-of-core inputs are streamed.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions.
        """
        check_is_fitted(self)
        predict_rows = self._batch_predictor()
        return self._map_rows(X, lambda b: predict_rows(b.X), desc="predict")

    def _batch_predictor(self):
        """The function of a batch's rows that predicts them."""
        return self._predict_batch

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R² of the predictions, streamed.

        Equal to :func:`sklearn.metrics.r2_score` on the whole data (outputs
        averaged uniformly), computed in one pass with stable merges.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Test rows.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        float
            R² of ``self.predict(X)`` against ``y``.
        """
        check_is_fitted(self)
        source = self._source(X, y, sample_weight, reset=False)
        if source.y is None:
            raise ValueError("score requires y, the true targets")
        predict_rows = self._batch_predictor()

        def summarize(batch):
            return RegressionScore.of_batch(
                batch.y, predict_rows(batch.X), batch.sample_weight
            )

        stats = self._engine().reduce(
            source, range(source.n_batches), summarize, desc="score"
        )
        if stats.targets.count < 2:
            warnings.warn(
                "R^2 score is not well-defined with less than two samples.",
                UndefinedMetricWarning,
                stacklevel=2,
            )
            return float("nan")
        return stats.r2()


@dataclass
class _Run:
    """What one EM run from one initialization reached."""

    lower_bound: float
    n_iter: int
    history: list
    converged: bool
    seconds: list
    params: object
    running: tuple
    cursor: int


class IterativeMixin(OutOfCoreMixin):
    """Estimators fitted by iterations of one pass each over the data (EM).

    Hooks, besides ``_summarize`` and ``_from_summaries`` (the update):

    ``_initialize(source, random_state)``
        set starting parameters (may read samples or make passes);
    ``_prepare_pass()``
        precompute what ``_summarize`` needs from the current parameters;
    ``_objective(stats)``
        the per-row objective measured by a pass (the lower bound of EM);
    ``_get_parameters()`` / ``_set_parameters(params)``
        the fitted parameters as one picklable value.

    Constructor parameters used here: ``max_iter``, ``tol``, ``n_init``,
    ``warm_start``, ``random_state``, ``decay``, ``batches_per_epoch``,
    ``verbose``, ``verbose_interval``.

    With ``batches_per_epoch=None`` each iteration is one pass over all the
    data (exact). With an int ``k``, each iteration reads the next ``k``
    batches, the cursor carrying on across iterations; the update uses those
    batches alone, or, with ``decay`` set, a running average of the
    statistics, ``s_t = (1 - rho_t) s_{t-1} + rho_t stats`` with
    ``rho_t = (t + 2) ** -decay`` (stepwise EM).
    """

    def _prepare_pass(self):
        pass

    # The warning when the best run stops at max_iter (None: no warning).
    _not_converged = (
        "Best performing initialization did not converge. Try different init "
        "parameters, or increase max_iter, tol, or check for degenerate data."
    )

    def _runs(self):
        """Initializations of a fit (``n_init``)."""
        return self.n_init

    def _has_converged(self, change):
        """Whether the run stops after an iteration whose objective moved
        by ``change`` (scikit-learn's mixtures: ``|change| < tol``)."""
        return abs(change) < self.tol

    def _pass(self, source, indices, engine, desc):
        self._prepare_pass()
        return engine.reduce(source, indices, self._summarize, desc=desc)

    # Whether the objective of a pass is measured after the update it makes
    # (a variational bound, which needs the new posteriors), or before it
    # (the log-likelihood of EM, under the parameters of the pass).
    _objective_after_update = False

    def _update(self, stats, update_stats):
        """Update the parameters from ``update_stats``; the objective of the
        pass whose statistics are ``stats``."""
        if self._objective_after_update:
            self._from_summaries(update_stats)
            return self._objective(stats)
        objective = self._objective(stats)
        self._from_summaries(update_stats)
        return objective

    def _stepwise(self, stats):
        """Statistics of an update in minibatch mode (and of ``partial_fit``)."""
        stats = stats.scaled(1.0 / stats.count)
        if self.decay is None or not hasattr(self, "_running_stats"):
            self._running_stats = stats
            self._n_steps = 1
            return stats
        rho = (self._n_steps + 2.0) ** -self.decay
        self._running_stats = self._running_stats.scaled(1 - rho) + stats.scaled(rho)
        self._n_steps += 1
        return self._running_stats

    # What the objective of a pass is called in verbose lines (the seed's
    # words for the log-likelihood of EM).
    _objective_name = "Log-likelihood"

    def _report_total(self, engine, improvement):
        """The line after a run: how far the objective moved, in all."""
        engine.log(f"Total Improvement: {improvement:.6g}")

    # Whether the objective is per row (the log-likelihood of EM), so that
    # the verbose lines multiply it by the rows, or a total (a bound).
    _objective_per_row = True

    def _report(self, engine, n_iter, lower_bound, change, rows, seconds):
        if not self.verbose or n_iter % self.verbose_interval:
            return
        if not self._objective_per_row:
            rows = 1
        if np.isfinite(change):
            engine.log(
                f"[{n_iter}] Improvement: {change * rows:.6g} Time (s): {seconds:.4g}"
            )
        else:
            engine.log(
                f"[{n_iter}] {self._objective_name}: {lower_bound * rows:.6g} "
                f"Time (s): {seconds:.4g}"
            )

    def _iterate(self, source, plan, engine, random_state, do_init, resume, save):
        """One run from one initialization; returns what the run reached.

        ``resume`` is the state of this run from a checkpoint (the loop
        carries on after its last iteration); ``save(state)`` is called after
        every iteration with the loop's state.
        """
        timer = Timer()
        if resume is not None:
            lower_bound, history, seconds = (
                resume["lower_bound"],
                resume["history"],
                resume["seconds"],
            )
            converged, n_iter, plan.cursor = (
                resume["converged"],
                resume["n_iter"],
                resume["cursor"],
            )
        else:
            if do_init:
                self._initialize(source, random_state)
                for attr in ("_running_stats", "_n_steps"):
                    self.__dict__.pop(attr, None)
                if self.verbose:
                    engine.log(f"Initialization Time (s): {timer.lap():.4g}")
            lower_bound = -np.inf if do_init else self.lower_bound_
            history, seconds, converged, n_iter = [], [], False, 0
        minibatch = plan.epoch_length < plan.n_batches
        # A resumed run that stopped at max_iter goes on if max_iter was raised.
        while not converged and n_iter < self.max_iter:
            n_iter += 1
            previous = lower_bound
            indices = plan.next_epoch()
            stats = self._pass(source, indices, engine, desc=f"iteration {n_iter}")
            lower_bound = self._update(
                stats, self._stepwise(stats) if minibatch else stats
            )
            history.append(lower_bound)
            change = lower_bound - previous
            seconds.append(timer.lap())
            self._report(engine, n_iter, lower_bound, change, stats.count, seconds[-1])
            converged = bool(self._has_converged(change))
            save(
                {
                    "lower_bound": lower_bound,
                    "history": history,
                    "seconds": seconds,
                    "converged": converged,
                    "n_iter": n_iter,
                    "cursor": plan.cursor,
                }
            )
        if self.verbose and history and resume is None:
            rows = stats.count if self._objective_per_row else 1
            improvement = (history[-1] - history[0]) * rows
            self._report_total(engine, improvement)
            engine.log(f"Total Time (s): {sum(seconds):.4f}")
        return _Run(
            lower_bound if self.max_iter > 0 else -np.inf,
            n_iter,
            history,
            converged,
            seconds,
            self._get_parameters(),
            (getattr(self, "_running_stats", None), getattr(self, "_n_steps", 0)),
            plan.cursor,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, batch_size=None, batches_per_epoch=None):
        """Fit the model by iterations of one pass each over ``X``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or array store of shape \
                (n_samples, n_features)
            Training rows; a path names a ``.npy`` file. Memory maps, files and
            stores are read one batch at a time.
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.
        batches_per_epoch : int, default=None
            Batches per iteration for this call (minibatch mode); ``None``
            keeps the constructor's.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit_iterations(X, None, None, batch_size, batches_per_epoch)

    def _fit_iterations(self, X, y, sample_weight, batch_size, batches_per_epoch):
        """The body of ``fit``: initializations, iterations, the best run."""
        if batches_per_epoch is None:
            batches_per_epoch = getattr(self, "batches_per_epoch", None)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        with self._transaction(), Engine.single_threaded_blas():
            self.__dict__.pop("_pending_stats", None)
            source = self._source(
                X, y, sample_weight, reset=do_init, batch_size=batch_size, fitting=True
            )
            if do_init:
                self._check_source(source)
            # A warm start carries on where the cursor stopped; every fresh
            # run reads the same batches, so their bounds compare.
            cursor = 0 if do_init else getattr(self, "_epoch_cursor", 0)
            engine = self._engine()
            random_state = check_random_state(self.random_state)
            # (n_iter, converged) of each finished run, before the current one.
            best, first_run, resume, runs = None, 0, None, []
            checkpoint = self._checkpoint_of(
                source,
                batches_per_epoch=batches_per_epoch,
                start=None if do_init else self._warm_start_state(cursor),
            )
            saved = checkpoint.load() if checkpoint is not None else None
            if saved is not None:
                runs = self._resumable_runs(checkpoint, saved)
                params = self.get_params(deep=False)
                self.__dict__.update(checkpoint.strict(saved["estimator"]))
                self.__dict__.update(params)
                if saved["random_state"] is not None:
                    random_state.set_state(saved["random_state"])
                best, first_run = saved["best"], saved["run"]
                resume = checkpoint.strict(saved["loop"])
                engine.log(
                    f"Resuming from {checkpoint.path} (run {first_run + 1}, "
                    f"iteration {resume['n_iter']})"
                )
            n_runs = self._runs() if do_init else 1
            for init in range(first_run, n_runs):
                if n_runs > 1:
                    engine.log(f"Initialization {init + 1} of {n_runs}")

                def save(loop, init=init, best=best, runs=tuple(runs)):
                    if checkpoint is None:
                        return
                    params = set(self.get_params(deep=False))
                    checkpoint.save(
                        {
                            "run": init,
                            "loop": loop,
                            # Checkpoint.load refuses a fit of a lower max_iter.
                            "n_iter": loop["n_iter"],
                            "max_iter": self.max_iter,
                            "runs": runs,
                            "best": best,
                            "estimator": {
                                k: v
                                for k, v in self.__dict__.items()
                                if k not in params
                            },
                            "random_state": (
                                # Never the global generator (random_state=None).
                                random_state.get_state()
                                if self.random_state is not None
                                else None
                            ),
                        }
                    )

                plan = EpochPlan(source.n_batches, batches_per_epoch, cursor=cursor)
                run = self._iterate(
                    source,
                    plan,
                    engine,
                    random_state,
                    do_init,
                    resume if init == first_run else None,
                    save,
                )
                resume = None
                runs.append((run.n_iter, run.converged))
                # As scikit-learn: a later run wins only with a higher bound,
                # or when no bound is known (max_iter=0 keeps the last run).
                if (
                    best is None
                    or run.lower_bound > best.lower_bound
                    or best.lower_bound == -np.inf
                ):
                    best = run
            self._set_parameters(best.params)
            self._running_stats, self._n_steps = best.running
            if self._running_stats is None:
                del self._running_stats
            self._epoch_cursor = best.cursor
            self._iteration_seconds = best.seconds
            self.n_iter_ = best.n_iter
            self.lower_bound_ = best.lower_bound
            self.lower_bounds_ = best.history
            self.converged_ = best.converged
            self.n_samples_seen_ = source.n_samples
            self._is_fitted = True
            if not best.converged and self.max_iter > 0 and self._not_converged:
                warnings.warn(self._not_converged, ConvergenceWarning, stacklevel=2)
        return self

    def partial_fit(self, X, y=None):
        """One update from the rows of ``X`` (stepwise EM).

        The first call initializes the parameters from ``X``. Each call is
        one pass over ``X`` under the current parameters, then an update from
        those statistics alone, or from their running average when ``decay``
        is set.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first = not self.__sklearn_is_fitted__()
        if first:
            self._validate_params()
        with self._transaction():
            source = self._source(X, y, reset=first, fitting=True)
            engine = self._engine()
            if first:
                self._check_source(source)
                self._initialize(source, check_random_state(self.random_state))
                for attr in ("_running_stats", "_n_steps", "_pending_stats"):
                    self.__dict__.pop(attr, None)
                self.n_iter_ = 0
                self.n_samples_seen_ = 0
            stats = self._pass(source, range(source.n_batches), engine, "partial_fit")
            self.lower_bound_ = self._update(stats, self._stepwise(stats))
            self._publish_update()
            self.n_iter_ += 1
            self.n_samples_seen_ += source.n_samples
            self.converged_ = False
            self._is_fitted = True
        return self

    def summarize(self, X, y=None):
        """Accumulate the statistics of ``X`` under the current parameters.

        Pending statistics wait for :meth:`from_summaries`, which updates the
        parameters from them: ``summarize`` over consecutive slices of the
        data then ``from_summaries()`` is exactly one iteration of the fit
        (an EM, Lloyd or Newton step) over the whole data. An unfitted model
        is first initialized from ``X``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.
        y : array-like of shape (n_samples,), default=None
            Targets of a supervised estimator; ignored by the others.

        Returns
        -------
        self : object
            The estimator, with pending statistics.
        """
        pending = getattr(self, "_pending_stats", None)
        first = pending is None and not self.__sklearn_is_fitted__()
        if first:
            self._validate_params()
        with self._transaction():
            source = self._source(X, y, reset=first, fitting=True)
            engine = self._engine()
            if first:
                self._check_source(source)
                self._initialize(source, check_random_state(self.random_state))
            stats = self._pass(source, range(source.n_batches), engine, "summarize")
            self._pending_stats = stats if pending is None else pending + stats
        return self

    def from_summaries(self):
        """Update the parameters from the statistics of :meth:`summarize`.

        The pending statistics are cleared.

        Returns
        -------
        self : object
            The updated estimator.
        """
        pending = getattr(self, "_pending_stats", None)
        if pending is None:
            raise ValueError(
                f"{type(self).__name__} has no pending statistics: call "
                "summarize(X) on the data first"
            )
        with self._transaction():
            self.lower_bound_ = self._update(pending, pending)
            self._publish_update()
            del self._pending_stats
            self.n_iter_ = getattr(self, "n_iter_", 0) + 1
            self.n_samples_seen_ = pending.count
            # Convergence is fit's test between its iterations; an update
            # from summaries of any partition makes none.
            self.converged_ = False
            self._is_fitted = True
        return self

    def _check_source(self, source):
        pass

    def _warm_start_state(self, cursor):
        """What a warm start begins from: the fitted parameters, and what the
        loop carries over from the previous fit."""
        return (
            self._get_parameters(),
            cursor,
            self.lower_bound_,
            getattr(self, "_running_stats", None),
            getattr(self, "_n_steps", 0),
        )

    def _resumable_runs(self, checkpoint, saved):
        """The finished runs of ``saved``, if this fit would end them alike.

        A run that converged ends at the same iteration under any
        ``max_iter`` that reaches it; one that ``max_iter`` stopped ends
        there only under the same ``max_iter``. The run in progress may go
        on to any ``max_iter`` it has not passed (see ``Checkpoint.load``).
        """
        runs = [tuple(run) for run in saved["runs"]]
        then = saved["max_iter"]
        for n_iter, converged in runs:
            if n_iter > self.max_iter or (not converged and self.max_iter != then):
                raise checkpoint.refusal(
                    f"holds {len(runs)} finished initialization(s) of a fit with "
                    f"max_iter={then}, which a fit with max_iter={self.max_iter} "
                    "would run to another end",
                    f"set max_iter={then}",
                )
        return runs

    def _publish_update(self):
        """Make the public attributes show the parameters of an update made
        outside ``fit`` (``partial_fit``, ``from_summaries``)."""
        self._set_parameters(self._get_parameters())


class StreamingClassifierMixin:
    """Streamed ``predict`` and ``score`` (accuracy) for classifiers.

    Subclasses provide ``_predict_batch(X)`` returning labels.
    """

    def predict(self, X):
        """Predict the class of every row of ``X``, batch by batch.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows to classify; out-of-core inputs are streamed.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted labels.
        """
        return self._map_rows(X, lambda b: self._predict_batch(b.X), desc="predict")

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of the predictions, streamed.

        Equal to :func:`sklearn.metrics.accuracy_score` on the whole data.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Test rows.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        float
            The (weighted) fraction of rows predicted right.
        """
        check_is_fitted(self)
        source = self._source(X, y, sample_weight, reset=False)

        def summarize(batch):
            right = self._predict_batch(batch.X) == np.ravel(batch.y)
            w = batch.sample_weight
            if w is None:
                return np.array([right.sum(), batch.n_samples], dtype=np.float64)
            return np.array([w @ right, w.sum()])

        right, total = self._engine().reduce(
            source, range(source.n_batches), summarize, desc="score"
        )
        return float(right / total)


class SequentialMixin(OutOfCoreMixin):
    """Learners updated by each block in turn (SGD, ``partial_fit`` wrappers).

    Their result depends on the order of the rows, so the engine runs on the
    calling thread, and the order is a parameter: ``shuffle='block'`` visits
    the blocks in a new random order each epoch and the rows of a block in a
    random order; ``'disk'`` first writes a shuffled copy of the data to a
    temporary file (:func:`~sklearn_ooc.io.shuffle_on_disk`) and reads it in
    order; ``False`` reads the rows as they are. Blocks hold ``buffer_mb``
    megabytes of rows (MLML's ``--buffer``).

    Constructor parameters used here: ``buffer_mb``, ``shuffle``,
    ``random_state``, ``verbose``.
    """

    _single_target = True

    def _engine(self):
        # Order matters: blocks are visited on this thread, Dask chunks too.
        return Engine(
            n_jobs=1, verbose=self.verbose, name=type(self).__name__, distributed=False
        )

    def _source(
        self, X, y=None, sample_weight=None, *, reset, batch_size=None, fitting=False
    ):
        """Blocks of ``buffer_mb`` megabytes of rows."""
        if batch_size is None:
            if isinstance(X, (str, os.PathLike)) or not hasattr(X, "shape"):
                X = open_rows(X, "X")
            row_values = int(np.prod(X.shape[1:], dtype=np.int64)) + 1
            batch_size = max(1, int(self.buffer_mb * (1 << 20)) // (8 * row_values))
        return super()._source(
            X, y, sample_weight, reset=reset, batch_size=batch_size, fitting=fitting
        )

    @contextmanager
    def _shuffled(self, X, y, seed):
        """``(X, y)``, or with ``shuffle='disk'`` their shuffled temporary copies."""
        if self.shuffle != "disk":
            yield X, y
            return
        from .data._scratch import scratch_dir
        from .io import shuffle_on_disk

        # Named for this process, so that the next run removes the copy
        # if this one is killed before its ``finally``.
        tmpdir = scratch_dir(tempfile.gettempdir(), "shuffle")
        try:
            yield shuffle_on_disk(
                X,
                y,
                out=os.path.join(tmpdir, "shuffled"),
                buffer_mb=self.buffer_mb,
                random_state=seed,
            )
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def _block_order(self, source, rng):
        """Blocks of the next epoch."""
        if self.shuffle == "block":
            return rng.permutation(source.n_batches)
        return np.arange(source.n_batches)

    def _row_order(self, rows, rng):
        """The rows ``rows`` of a block in the order the learner sees them."""
        return rows[rng.permutation(rows.shape[0])] if self.shuffle else rows

    def _visit(self, source, order, step, desc):
        """Call ``step(batch)`` on the blocks ``order``, one after the other."""
        for _ in self._engine().map(source, order, step, desc=desc):
            pass
