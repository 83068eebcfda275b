"""Multinomial, complement and Bernoulli naive Bayes from streamed counts."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.base import _fit_context
from sklearn.naive_bayes import BernoulliNB, CategoricalNB, ComplementNB, MultinomialNB
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import _check_partial_fit_first_call

from .._out_of_core import register
from .._stats import LabelSums
from ..base import OutOfCoreMixin
from ._streamed import (
    StreamedPredictMixin,
    SummarizeMixin,
    check_fitted_counts,
    check_some_weight,
    epoch_of,
)


class _StreamedDiscreteNB(SummarizeMixin, StreamedPredictMixin, OutOfCoreMixin):
    """Counts of the features in each class, summed over streamed batches,
    then scikit-learn's own smoothing and priors."""

    _accept_sparse = True

    def _rows(self, X, batch):
        """The rows as this model counts them (checked, or binarized)."""
        return np.asarray(X, dtype=np.float64)

    def _summarize(self, batch):
        rows = self._rows(batch.X, batch)
        return LabelSums.of_rows(rows, batch.y, batch.sample_weight)

    def _apply(self, counts, classes):
        """Add ``counts`` (LabelSums) to the counters of ``classes`` and
        update the model as scikit-learn's ``_count`` and its followers do."""
        n_classes = len(classes)
        feature_count = np.zeros((n_classes, self.n_features_in_))
        class_count = np.zeros(n_classes)
        if n_classes == 1:
            # scikit-learn's degenerate case: every row counts for the class.
            for key in counts.weight:
                feature_count[0] += counts.sums[key]
                class_count[0] += counts.weight[key]
        else:
            for i, key in enumerate(classes.tolist()):
                if key in counts.weight:
                    feature_count[i] = counts.sums[key]
                    class_count[i] = counts.weight[key]
        self._add_counts(feature_count, class_count)
        self._update_feature_log_prob(self._check_alpha())
        self._update_class_log_prior(class_prior=self.class_prior)

    def _add_counts(self, feature_count, class_count):
        self.feature_count_ = self.feature_count_ + feature_count
        self.class_count_ = self.class_count_ + class_count

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, batch_size=None, batches_per_epoch=None):
        """Count the features of every class in one pass over the rows.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, sparse matrix or table \
                of shape (n_samples, n_features)
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
            counts = self._reduce(
                source, epoch_of(source, batches_per_epoch, self), desc="fit"
            )
            self._fit_from(counts)
        return self

    def _fit_from(self, counts, dtype=None):
        classes = check_fitted_counts(counts.weight, sum(counts.weight.values()))
        self.classes_ = classes
        self._init_counters(len(classes), self.n_features_in_)
        self._apply(counts, classes)
        self._is_fitted = True

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Add the counts of the rows of ``X`` to the model, as scikit-learn's.

        ``classes`` is required on the first call; rows of labels outside
        them count for no class, as in scikit-learn. The counts add exactly:
        after calls on consecutive slices of a data set in which every class
        occurs, the model is ``fit``'s on the whole of it (but for
        ``OOCCategoricalNB.n_categories_``, which is, as scikit-learn's,
        that of the last call's rows and ``min_categories``).

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
            if _check_partial_fit_first_call(self, classes):
                self._init_counters(len(self.classes_), self.n_features_in_)
            counts = self._reduce(source, desc="partial_fit")
            if sample_weight is not None:
                check_some_weight(sum(counts.weight.values()))
            self._apply(counts, self.classes_)
            self._is_fitted = True
        return self


def _check_non_negative(X, batch, whom):
    negative = np.flatnonzero((X < 0).any(axis=1))
    if negative.size:
        row = int(negative[0])
        column = int(np.flatnonzero(X[row] < 0)[0])
        raise ValueError(
            f"Negative values in data passed to {whom} (input X): row "
            f"{batch.start + row} (batch {batch.index}, rows {batch.start}-"
            f"{batch.stop - 1}) holds {X[row, column]} in column {column}"
        )
    return X


@register(MultinomialNB)
class OOCMultinomialNB(_StreamedDiscreteNB, MultinomialNB):
    """Naive Bayes for multinomial counts, from one streamed pass.

    scikit-learn's :class:`~sklearn.naive_bayes.MultinomialNB` -- its
    smoothing, priors, attributes and predictions -- whose feature counts
    in each class are summed over the batches of the rows; ``partial_fit``
    is exact, and predictions are streamed.

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,), default=1.0
        Additive (Laplace/Lidstone) smoothing parameter.
    force_alpha : bool, default=True
        If False and alpha is below 1e-10, alpha is set to 1e-10.
    fit_prior : bool, default=True
        Whether to learn class prior probabilities.
    class_prior : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes.
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
    class_log_prior_ : ndarray of shape (n_classes,)
        Smoothed empirical log probability of each class.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    feature_count_ : ndarray of shape (n_classes, n_features)
        Weighted sum of each feature over the rows of each class.
    feature_log_prob_ : ndarray of shape (n_classes, n_features)
        Empirical log probability of the features given a class.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.naive_bayes import OOCMultinomialNB
    >>> rng = np.random.RandomState(1)
    >>> X = rng.randint(5, size=(6, 100))
    >>> y = np.array([1, 2, 3, 4, 5, 6])
    >>> clf = OOCMultinomialNB(batch_size=4).fit(X, y)
    >>> clf.predict(X[2:3])
    array([3])
    """

    _parameter_constraints: dict = {
        **MultinomialNB._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
        "batches_per_epoch": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        alpha=1.0,
        force_alpha=True,
        fit_prior=True,
        class_prior=None,
        batch_size="auto",
        batches_per_epoch=None,
        n_jobs=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.force_alpha = force_alpha
        self.fit_prior = fit_prior
        self.class_prior = class_prior
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _rows(self, X, batch):
        return _check_non_negative(
            np.asarray(X, dtype=np.float64), batch, "MultinomialNB"
        )


@register(ComplementNB)
class OOCComplementNB(_StreamedDiscreteNB, ComplementNB):
    """Complement naive Bayes (for imbalanced text classes), from one pass.

    scikit-learn's :class:`~sklearn.naive_bayes.ComplementNB` whose feature
    counts in each class are summed over the batches of the rows;
    ``partial_fit`` is exact, and predictions are streamed.

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,), default=1.0
        Additive (Laplace/Lidstone) smoothing parameter.
    force_alpha : bool, default=True
        If False and alpha is below 1e-10, alpha is set to 1e-10.
    fit_prior : bool, default=True
        Only used in the edge case of a single class.
    class_prior : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes (single-class edge case only).
    norm : bool, default=False
        Whether a second normalization of the weights is performed.
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
    class_log_prior_ : ndarray of shape (n_classes,)
        Smoothed empirical log probability of each class.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    feature_all_ : ndarray of shape (n_features,)
        Weighted sum of each feature over all rows.
    feature_count_ : ndarray of shape (n_classes, n_features)
        Weighted sum of each feature over the rows of each class.
    feature_log_prob_ : ndarray of shape (n_classes, n_features)
        Empirical weights of the class complements.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.naive_bayes import OOCComplementNB
    >>> rng = np.random.RandomState(1)
    >>> X = rng.randint(5, size=(6, 100))
    >>> y = np.array([1, 2, 3, 4, 5, 6])
    >>> clf = OOCComplementNB(batch_size=4).fit(X, y)
    >>> clf.predict(X[2:3])
    array([3])
    """

    _parameter_constraints: dict = {
        **ComplementNB._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
        "batches_per_epoch": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        alpha=1.0,
        force_alpha=True,
        fit_prior=True,
        class_prior=None,
        norm=False,
        batch_size="auto",
        batches_per_epoch=None,
        n_jobs=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.force_alpha = force_alpha
        self.fit_prior = fit_prior
        self.class_prior = class_prior
        self.norm = norm
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _rows(self, X, batch):
        return _check_non_negative(
            np.asarray(X, dtype=np.float64), batch, "ComplementNB"
        )

    def _add_counts(self, feature_count, class_count):
        super()._add_counts(feature_count, class_count)
        self.feature_all_ = self.feature_count_.sum(axis=0)


@register(BernoulliNB)
class OOCBernoulliNB(_StreamedDiscreteNB, BernoulliNB):
    """Naive Bayes for binary features, from one streamed pass.

    scikit-learn's :class:`~sklearn.naive_bayes.BernoulliNB` whose counts of
    the (binarized) features in each class are summed over the batches of
    the rows; ``partial_fit`` is exact, and predictions are streamed.

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,), default=1.0
        Additive (Laplace/Lidstone) smoothing parameter.
    force_alpha : bool, default=True
        If False and alpha is below 1e-10, alpha is set to 1e-10.
    binarize : float or None, default=0.0
        Threshold for binarizing the features; None: they are binary.
    fit_prior : bool, default=True
        Whether to learn class prior probabilities.
    class_prior : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes.
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
    class_log_prior_ : ndarray of shape (n_classes,)
        Log probability of each class (smoothed).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    feature_count_ : ndarray of shape (n_classes, n_features)
        Weighted number of rows of each class in which each feature is set.
    feature_log_prob_ : ndarray of shape (n_classes, n_features)
        Empirical log probability of the features given a class.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.naive_bayes import OOCBernoulliNB
    >>> rng = np.random.RandomState(1)
    >>> X = rng.randint(5, size=(6, 100))
    >>> y = np.array([1, 2, 3, 4, 4, 5])
    >>> clf = OOCBernoulliNB(batch_size=4).fit(X, y)
    >>> clf.predict(X[2:3])
    array([3])
    """

    _parameter_constraints: dict = {
        **BernoulliNB._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
        "batches_per_epoch": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        alpha=1.0,
        force_alpha=True,
        binarize=0.0,
        fit_prior=True,
        class_prior=None,
        batch_size="auto",
        batches_per_epoch=None,
        n_jobs=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.force_alpha = force_alpha
        self.binarize = binarize
        self.fit_prior = fit_prior
        self.class_prior = class_prior
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _rows(self, X, batch):
        return self._prediction_rows(X)

    def _prediction_rows(self, X):
        X = np.asarray(X, dtype=np.float64)
        if self.binarize is not None:
            X = (X > self.binarize).astype(np.float64)
        return X


@dataclass
class _CategoryCounts:
    """For each label: its total row weight, and for each feature the
    weighted count of each category; the highest category of each feature.
    Merging adds the counts, padded to the longer."""

    weight: dict
    counts: dict
    highest: np.ndarray

    def __add__(self, other):
        weight, counts = dict(self.weight), dict(self.counts)
        for key, value in other.weight.items():
            if key not in weight:
                weight[key], counts[key] = value, other.counts[key]
                continue
            weight[key] = weight[key] + value
            counts[key] = [
                _padded_sum(a, b)
                for a, b in zip(counts[key], other.counts[key], strict=True)
            ]
        return _CategoryCounts(weight, counts, np.maximum(self.highest, other.highest))


def _padded_sum(a, b):
    if len(a) < len(b):
        a, b = b, a
    out = a.copy()
    out[: len(b)] += b
    return out


@register(CategoricalNB)
class OOCCategoricalNB(_StreamedDiscreteNB, CategoricalNB):
    """Naive Bayes for categorical features, from one streamed pass.

    scikit-learn's :class:`~sklearn.naive_bayes.CategoricalNB` whose counts
    of each category of each feature in each class are summed over the
    batches of the rows; ``partial_fit`` is as scikit-learn's, and
    predictions are streamed.

    Parameters
    ----------
    alpha : float, default=1.0
        Additive (Laplace/Lidstone) smoothing parameter.
    force_alpha : bool, default=True
        If False and alpha is below 1e-10, alpha is set to 1e-10.
    fit_prior : bool, default=True
        Whether to learn class prior probabilities.
    class_prior : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes.
    min_categories : int or array-like of shape (n_features,), default=None
        Least number of categories of each feature.
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
    category_count_ : list of arrays of shape (n_features,)
        For each feature, the weighted number of rows of each class and
        category.
    class_count_ : ndarray of shape (n_classes,)
        Weighted number of rows of each class.
    class_log_prior_ : ndarray of shape (n_classes,)
        Smoothed empirical log probability of each class.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    feature_log_prob_ : list of arrays of shape (n_features,)
        For each feature, the empirical log probability of each category
        given a class.
    n_categories_ : ndarray of shape (n_features,), dtype=np.int64
        Number of categories of each feature.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Notes
    -----
    The categories are the integer parts of the values, as scikit-learn's
    conversion of the rows to integers makes them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.naive_bayes import OOCCategoricalNB
    >>> rng = np.random.RandomState(1)
    >>> X = rng.randint(5, size=(6, 100))
    >>> y = np.array([1, 2, 3, 4, 5, 6])
    >>> clf = OOCCategoricalNB(batch_size=4).fit(X, y)
    >>> clf.predict(X[2:3])
    array([3])
    """

    _parameter_constraints: dict = {
        **CategoricalNB._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
        "batches_per_epoch": [Interval(Integral, 1, None, closed="left"), None],
    }

    _accept_sparse = False

    def __init__(
        self,
        *,
        alpha=1.0,
        force_alpha=True,
        fit_prior=True,
        class_prior=None,
        min_categories=None,
        batch_size="auto",
        batches_per_epoch=None,
        n_jobs=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.force_alpha = force_alpha
        self.fit_prior = fit_prior
        self.class_prior = class_prior
        self.min_categories = min_categories
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _prediction_rows(self, X):
        X = np.asarray(X).astype(np.int64)
        negative = np.argwhere(X < 0)
        if negative.size:
            row, column = negative[0]
            raise ValueError(
                "Negative values in data passed to CategoricalNB (input X): "
                f"{X[row, column]} in column {column}"
            )
        return X

    def _summarize(self, batch):
        X = self._prediction_rows(batch.X)
        negative = np.flatnonzero((X < 0).any(axis=1))
        if negative.size:
            row = int(negative[0])
            column = int(np.flatnonzero(X[row] < 0)[0])
            raise ValueError(
                f"Negative values in data passed to CategoricalNB (input X): row "
                f"{batch.start + row} (batch {batch.index}, rows {batch.start}-"
                f"{batch.stop - 1}) holds {X[row, column]} in column {column}"
            )
        labels = np.ravel(batch.y)
        w = batch.sample_weight
        weight, counts = {}, {}
        for label in np.unique(labels):
            mask = labels == label
            key = label.item() if hasattr(label, "item") else label
            rows = X[mask]
            weights = None if w is None else w[mask]
            weight[key] = float(mask.sum() if weights is None else weights.sum())
            counts[key] = [
                np.bincount(rows[:, i], weights=weights).astype(np.float64)
                for i in range(X.shape[1])
            ]
        highest = X.max(axis=0) if len(X) else np.full(X.shape[1], -1)
        return _CategoryCounts(weight, counts, highest)

    def _apply(self, counts, classes):
        n_classes = len(classes)
        single = n_classes == 1
        self.class_count_ = self.class_count_ + np.array(
            [
                sum(counts.weight.values()) if single else counts.weight.get(k, 0.0)
                for k in classes.tolist()
            ]
        )
        self.n_categories_ = self._validate_n_categories(
            counts.highest[np.newaxis, :], self.min_categories
        )
        category_count = []
        for i in range(self.n_features_in_):
            current = self.category_count_[i]
            width = max(current.shape[1], int(self.n_categories_[i]))
            grown = np.zeros((n_classes, width))
            grown[:, : current.shape[1]] = current
            for j, key in enumerate(classes.tolist()):
                keys = list(counts.counts) if single else [key]
                for k in keys:
                    if k in counts.counts:
                        found = counts.counts[k][i]
                        grown[j, : len(found)] += found
            category_count.append(grown)
        self.category_count_ = category_count
        self._update_feature_log_prob(self._check_alpha())
        self._update_class_log_prior(class_prior=self.class_prior)
