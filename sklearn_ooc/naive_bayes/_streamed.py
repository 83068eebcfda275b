"""Predictions of the naive Bayes models, streamed batch by batch."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..base import StreamingClassifierMixin
from ..data import EpochPlan


def check_fitted_counts(labels, total_weight):
    """The labels of a fit, sorted, once they are classes and some row
    weighs something; scikit-learn's errors otherwise."""
    classes = np.array(sorted(labels))
    check_classification_targets(classes)
    check_some_weight(total_weight)
    return classes


def check_some_weight(total_weight):
    """scikit-learn's error for rows that all weigh zero."""
    if not total_weight > 0:
        raise ValueError("Sample weights must contain at least one non-zero number.")


def epoch_of(source, batches_per_epoch, model):
    """The batches a ``fit`` reads: the first ``batches_per_epoch`` (the
    call's, else the constructor's), or all."""
    if batches_per_epoch is None:
        batches_per_epoch = model.batches_per_epoch
    return EpochPlan(source.n_batches, batches_per_epoch).next_epoch()


def float_dtype(source):
    """The dtype of scikit-learn's attributes: float32 rows keep float32."""
    dtype = getattr(source.X, "dtype", np.float64)
    return np.float32 if dtype == np.float32 else np.float64


class SummarizeMixin:
    """``summarize`` and ``from_summaries`` over a ``_fit_from(stats,
    dtype)`` that fits the model of merged statistics as ``fit`` does."""

    def summarize(self, X, y, sample_weight=None):
        """Accumulate the statistics of the rows of ``X``; the model is unchanged.

        The statistics wait until :meth:`from_summaries` applies them: calls
        on consecutive slices of a data set followed by ``from_summaries()``
        give the model that ``fit`` gives on the whole data set.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            The rows.
        y : array-like of shape (n_samples,)
            The class of each row.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        self : object
            The estimator, with pending statistics.
        """
        pending = getattr(self, "_pending_stats", None)
        first = pending is None and not hasattr(self, "classes_")
        if first:
            self._validate_params()
        with self._transaction():
            source = self._source(X, y, sample_weight, reset=first, fitting=True)
            stats = self._reduce(source, desc="summarize")
            dtype = float_dtype(source)
            if pending is not None:
                stats = pending[0] + stats
                dtype = np.float32 if pending[1] == dtype == np.float32 else np.float64
            self._pending_stats = (stats, dtype)
        return self

    def from_summaries(self):
        """Fit the model of the statistics accumulated by :meth:`summarize`.

        The model is ``fit``'s on all the summarized rows; the pending
        statistics are cleared.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        pending = getattr(self, "_pending_stats", None)
        if pending is None:
            raise ValueError(
                f"{type(self).__name__} has no pending statistics: call "
                "summarize(X, y) on the data first"
            )
        with self._transaction():
            self._fit_from(*pending)
            del self._pending_stats
        return self


class StreamedPredictMixin(StreamingClassifierMixin):
    """scikit-learn's naive Bayes predictions, from the joint log-likelihood
    of the rows of each batch."""

    _requires_y = True
    _y_numeric = False
    _single_target = True

    def _prediction_rows(self, X):
        """The rows as the model reads them to predict."""
        return np.asarray(X, dtype=np.float64)

    def _joint_rows(self, batch):
        return self._joint_log_likelihood(self._prediction_rows(batch.X))

    def predict_joint_log_proba(self, X):
        """Joint log-probability ``log P(x, c)`` of every row and class.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows, read batch by batch.

        Returns
        -------
        C : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self._map_rows(X, self._joint_rows, desc="predict")

    def predict_log_proba(self, X):
        """Log-probability of every class for every row.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows, read batch by batch.

        Returns
        -------
        C : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)

        def rows(batch):
            jll = self._joint_rows(batch)
            return jll - np.atleast_2d(logsumexp(jll, axis=1)).T

        return self._map_rows(X, rows, desc="predict")

    def predict_proba(self, X):
        """Probability of every class for every row.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows, read batch by batch.

        Returns
        -------
        C : ndarray of shape (n_samples, n_classes)
        """
        return np.exp(self.predict_log_proba(X))

    def _predict_batch(self, X):
        jll = self._joint_log_likelihood(self._prediction_rows(X))
        return self.classes_[np.argmax(jll, axis=1)]
