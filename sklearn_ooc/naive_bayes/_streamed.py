"""Predictions of the naive Bayes models, streamed batch by batch."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..base import StreamingClassifierMixin


def check_fitted_counts(labels, total_weight):
    """The labels of a fit, sorted, once they are classes and some row
    weighs something; scikit-learn's errors otherwise."""
    classes = np.array(sorted(labels))
    check_classification_targets(classes)
    if not total_weight > 0:
        raise ValueError("Sample weights must contain at least one non-zero number")
    return classes


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
