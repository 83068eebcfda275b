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

import warnings
from contextlib import contextmanager
from numbers import Integral

import numpy as np
from sklearn.base import _fit_context
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._engine import Engine, Timer
from ._stats import RegressionScore
from .data import BatchSource, EpochPlan, check_batch_size


class OutOfCoreMixin:
    """Data access, engine and transactional state for out-of-core estimators.

    Subclasses set ``_requires_y`` (supervised) and ``_y_numeric``
    (regression targets must be finite numbers).
    """

    _requires_y = False
    _y_numeric = True

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
        tags.input_tags.sparse = True
        if self._requires_y:
            tags.target_tags.required = True
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_seen_stats")

    def _engine(self):
        return Engine(
            n_jobs=self.n_jobs, verbose=self.verbose, name=type(self).__name__
        )

    def _source(self, X, y=None, sample_weight=None, *, reset, batch_size=None):
        """Open ``X`` (and ``y``, ``sample_weight``) as a :class:`BatchSource`.

        Also records (``reset=True``) or checks (``reset=False``) the number
        and names of the features, as scikit-learn's ``validate_data`` does,
        without reading any row.
        """
        if self._requires_y and y is None and reset:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        if batch_size is None:
            batch_size = self.batch_size
        source = BatchSource(
            X,
            y,
            sample_weight,
            batch_size=check_batch_size(batch_size),
            y_numeric=self._y_numeric,
        )
        validate_data(
            self,
            X if hasattr(X, "columns") else source.X,
            skip_check_array=True,
            reset=reset,
        )
        return source

    @contextmanager
    def _transaction(self):
        """Restore every attribute if the block fails (or is interrupted).

        Hooks assign new objects to attributes and never modify fitted arrays
        in place, so a shallow copy of ``__dict__`` is a full snapshot.
        """
        saved = dict(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _reduce(self, source, indices=None, *, desc="pass"):
        """Sum of ``_summarize`` over batches ``indices`` (all by default)."""
        indices = range(source.n_batches) if indices is None else list(indices)
        engine = self._engine()
        timer = Timer()
        stats = engine.reduce(source, indices, self._summarize, desc=desc)
        rows = sum(source.bounds(i)[1] - source.bounds(i)[0] for i in indices)
        engine.log(
            f"[{type(self).__name__}] {desc}: {rows:,} rows in {len(indices)} "
            f"batch(es) of up to {source.batch_size:,} rows, {timer.total:.2f} s"
        )
        return stats

    def _map_rows(self, X, func, *, desc="predict"):
        """``func`` applied to the rows of ``X`` batch by batch, stacked in order."""
        check_is_fitted(self)
        source = self._source(X, reset=False)
        out = None
        for batch, result in self._engine().map(
            source, range(source.n_batches), lambda b: func(b.X), desc=desc
        ):
            if out is None:
                out = np.empty((source.n_samples,) + result.shape[1:], result.dtype)
            out[batch.start : batch.stop] = result
        return out


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
        with self._transaction():
            for attr in ("_seen_stats", "_pending_stats"):
                self.__dict__.pop(attr, None)
            source = self._source(
                X, y, sample_weight, reset=True, batch_size=batch_size
            )
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
        with self._transaction():
            source = self._source(X, y, sample_weight, reset=first)
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
            source = self._source(X, y, sample_weight, reset=first)
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
        with self._transaction():
            self._fit_stats(pending)
            del self._pending_stats
        return self

    def _fit_stats(self, stats):
        self._from_summaries(stats)
        self._seen_stats = stats


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
        return self._map_rows(X, self._predict_batch, desc="predict")

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

        def summarize(batch):
            return RegressionScore.of_batch(
                batch.y, self._predict_batch(batch.X), batch.sample_weight
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
