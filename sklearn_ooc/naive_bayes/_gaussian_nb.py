"""Gaussian naive Bayes from per-class moments streamed in one pass."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.base import _fit_context
from sklearn.naive_bayes import GaussianNB
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import _check_partial_fit_first_call

from .._out_of_core import register
from .._stats import diagonal_moments_of_rows
from ..base import OutOfCoreMixin
from ._streamed import (
    StreamedPredictMixin,
    SummarizeMixin,
    check_fitted_counts,
    check_some_weight,
    epoch_of,
    float_dtype,
)


@dataclass
class _GaussianStats:
    """The unweighted moments of all the rows (for ``epsilon_``) and the
    weighted moments of each class's rows; merging merges them."""

    pooled: object
    classes: dict

    def __add__(self, other):
        classes = dict(self.classes)
        for key, moments in other.classes.items():
            # None: rows of the class, all of weight zero.
            mine = classes.get(key)
            if mine is None or moments is None:
                classes[key] = moments if mine is None else mine
            else:
                classes[key] = mine + moments
        return _GaussianStats(self.pooled + other.pooled, classes)

    def is_finite(self):
        """Whether the moments of all the rows are finite (see
        :meth:`~sklearn_ooc._stats.Moments.is_finite`)."""
        return self.pooled.is_finite()


def _merge(n_past, mu, var, n_new, new_mu, new_var):
    """scikit-learn's update of a class's mean and variance by new rows."""
    if n_new == 0:
        return mu, var
    if n_past == 0:
        return new_mu, new_var
    n_total = float(n_past + n_new)
    total_mu = (n_new * new_mu + n_past * mu) / n_total
    total_ssd = (
        n_past * var + n_new * new_var + (n_new * n_past / n_total) * (mu - new_mu) ** 2
    )
    return total_mu, total_ssd / n_total


@register(GaussianNB)
class OOCGaussianNB(SummarizeMixin, StreamedPredictMixin, OutOfCoreMixin, GaussianNB):
    """Gaussian naive Bayes from one streamed pass.

    scikit-learn's :class:`~sklearn.naive_bayes.GaussianNB` -- its priors,
    variance smoothing, attributes and predictions -- whose per-class
    weighted means and variances are merged over the batches of the rows
    (centered moments, merged stably), and whose ``epsilon_`` is
    ``var_smoothing`` times the largest variance of all the rows, as
    scikit-learn's. Predictions are streamed.

    Parameters
    ----------
    priors : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes; ``None``: their frequencies.
    var_smoothing : float, default=1e-9
        Portion of the largest variance of all features added to the
        variances for calculation stability.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    batches_per_epoch : int, default=None
        ``fit`` reads the first ``batches_per_epoch`` batches only; ``None``
        (all batches) gives the model of all the rows.
    n_jobs : int, default=None
        Batches summarized in parallel (the same model for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    class_count_ : ndarray of shape (n_classes,)
        Weighted number of rows of each class.
    class_prior_ : ndarray of shape (n_classes,)
        Probability of each class.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    epsilon_ : float
        Absolute additive value to the variances.
    theta_ : ndarray of shape (n_classes, n_features)
        Mean of each feature per class.
    var_ : ndarray of shape (n_classes, n_features)
        Variance of each feature per class.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Notes
    -----
    scikit-learn's ``partial_fit`` takes ``epsilon_`` from the rows of each
    call and subtracts the new one from variances that hold the old one;
    ours does the same, so that a sequence of calls gives scikit-learn's
    model. ``fit`` takes it from all the rows, as scikit-learn's ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.naive_bayes import OOCGaussianNB
    >>> X = np.array([[-1, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]])
    >>> Y = np.array([1, 1, 1, 2, 2, 2])
    >>> clf = OOCGaussianNB(batch_size=4).fit(X, Y)
    >>> clf.predict([[-0.8, -1]])
    array([1])
    """

    _parameter_constraints: dict = {
        **GaussianNB._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
        "batches_per_epoch": [Interval(Integral, 1, None, closed="left"), None],
    }
    # The moments of all the rows show a NaN or an infinity.
    _summaries_reveal_nonfinite = True

    def __init__(
        self,
        *,
        priors=None,
        var_smoothing=1e-9,
        batch_size="auto",
        batches_per_epoch=None,
        n_jobs=None,
        verbose=0,
    ):
        self.priors = priors
        self.var_smoothing = var_smoothing
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _summarize(self, batch):
        X = np.asarray(batch.X, dtype=np.float64)
        labels = np.ravel(batch.y)
        w = batch.sample_weight
        classes = {}
        for label in np.unique(labels):
            mask = labels == label
            key = label.item() if hasattr(label, "item") else label
            weights = None if w is None else np.ascontiguousarray(w[mask])
            if weights is not None and not weights.sum() > 0:
                classes[key] = None
                continue
            classes[key] = diagonal_moments_of_rows(
                np.ascontiguousarray(X[mask]), weights
            )
        return _GaussianStats(diagonal_moments_of_rows(X), classes)

    def _update(self, stats, dtype, first_call):
        """scikit-learn's ``_partial_fit`` from the merged moments."""
        pooled = stats.pooled
        epsilon = self.var_smoothing * float(np.max(pooled.scatter / pooled.weight))
        n_classes, n_features = len(self.classes_), self.n_features_in_
        if first_call:
            theta = np.zeros((n_classes, n_features))
            var = np.zeros((n_classes, n_features))
            class_count = np.zeros(n_classes)
            if self.priors is not None:
                priors = np.asarray(self.priors, dtype=np.float64)
                if priors.shape[0] != n_classes:
                    raise ValueError("Number of priors must match number of classes.")
                if not np.isclose(priors.sum(), 1.0):
                    raise ValueError("The sum of the priors should be 1.")
                if np.any(priors < 0):
                    raise ValueError("Priors must be non-negative.")
                self.class_prior_ = priors.astype(dtype)
        else:
            theta = self.theta_.astype(np.float64)
            var = self.var_.astype(np.float64) - epsilon
            class_count = self.class_count_.astype(np.float64)
        unknown = [k for k in stats.classes if k not in set(self.classes_.tolist())]
        if unknown:
            raise ValueError(
                f"The target label(s) {np.array(sorted(unknown))} in y do not exist "
                f"in the initial classes {self.classes_}"
            )
        for i, key in enumerate(self.classes_.tolist()):
            moments = stats.classes.get(key)
            if moments is None:
                continue
            n_new = float(moments.weight)
            if n_new == 0:
                continue
            theta[i], var[i] = _merge(
                class_count[i],
                theta[i],
                var[i],
                n_new,
                moments.mean + moments.mean_error,
                moments.scatter / n_new,
            )
            class_count[i] += n_new
        var += epsilon
        # scikit-learn's: a scalar of the rows' dtype.
        self.epsilon_ = dtype(epsilon)
        self.theta_ = theta.astype(dtype)
        self.var_ = var.astype(dtype)
        self.class_count_ = class_count.astype(dtype)
        if self.priors is None:
            self.class_prior_ = self.class_count_ / self.class_count_.sum()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, batch_size=None, batches_per_epoch=None):
        """Fit the per-class means and variances in one pass over the rows.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or table of shape \
                (n_samples, n_features)
            The rows; a path names a ``.npy`` file.
        y : array-like of shape (n_samples,)
            The class of each row.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.
        batches_per_epoch : int, default=None
            Batches read by this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
        """
        with self._transaction():
            self.__dict__.pop("_pending_stats", None)
            source = self._source(
                X, y, sample_weight, reset=True, batch_size=batch_size, fitting=True
            )
            stats = self._reduce(
                source, epoch_of(source, batches_per_epoch, self), desc="fit"
            )
            self._fit_from(stats, float_dtype(source))
        return self

    def _fit_from(self, stats, dtype):
        weight = sum(float(m.weight) for m in stats.classes.values() if m is not None)
        self.classes_ = check_fitted_counts(stats.classes, weight)
        self._update(stats, dtype, first_call=True)
        self._is_fitted = True

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the model with the rows of ``X``, as scikit-learn's.

        ``classes`` is required on the first call; a label outside them is
        an error, and the model is left as it was.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            The rows.
        y : array-like of shape (n_samples,)
            The class of each row.
        classes : array-like of shape (n_classes,), default=None
            Every class there can be; required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        self : object
        """
        self._validate_params()
        first_call = not hasattr(self, "classes_")
        with self._transaction():
            source = self._source(X, y, sample_weight, reset=first_call, fitting=True)
            first_call = _check_partial_fit_first_call(self, classes)
            stats = self._reduce(source, desc="partial_fit")
            if sample_weight is not None:
                check_some_weight(
                    sum(
                        float(m.weight) for m in stats.classes.values() if m is not None
                    )
                )
            self._update(stats, float_dtype(source), first_call=first_call)
            self._is_fitted = True
        return self

    def _prediction_rows(self, X):
        # float32 rows are scored in float32 (float64 where the model is),
        # as scikit-learn's predictions are.
        X = np.asarray(X)
        return X if X.dtype == np.float32 else X.astype(np.float64)

    def _joint_log_likelihood(self, X):
        return GaussianNB._joint_log_likelihood(self, X)
