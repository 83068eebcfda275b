"""pomegranate's Bayes classifier: a distribution (or mixture) per class."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils.validation import check_is_fitted

from ..base import OutOfCoreMixin
from ..data import open_array
from ..distributions import Distribution, IndependentComponents, Normal
from ._streamed import StreamedPredictMixin, check_fitted_counts


@dataclass
class _ClassStatistics:
    """Each label's total row weight and the statistics its distribution
    takes of its rows; merging merges them label by label."""

    weight: dict
    stats: dict

    def __add__(self, other):
        weight, stats = dict(self.weight), dict(self.stats)
        for key, value in other.weight.items():
            if key in weight:
                weight[key] = weight[key] + value
                if other.stats[key] is not None:
                    mine = stats[key]
                    stats[key] = (
                        other.stats[key] if mine is None else mine + other.stats[key]
                    )
            else:
                weight[key], stats[key] = value, other.stats[key]
        return _ClassStatistics(weight, stats)


class BayesClassifier(
    StreamedPredictMixin, OutOfCoreMixin, ClassifierMixin, BaseEstimator
):
    """A Bayes classifier over any distribution or mixture per class.

    pomegranate's ``BayesClassifier``: class ``c`` has a model of its rows --
    one of :mod:`sklearn_ooc.distributions` (a multivariate normal,
    independent components per column, ...) or a mixture estimator
    (:class:`~sklearn_ooc.mixture.OOCMixture`,
    :class:`~sklearn_ooc.mixture.OOCGaussianMixture`) -- and a prior, and a
    row's class probabilities are Bayes' rule over ``P(x | c) P(c)``.
    The distributions are fitted in one pass over the rows (each class's
    statistics merged over the batches, exactly), the mixtures by their own
    EM passes over the rows of their class.

    Parameters
    ----------
    distributions : list, default=None
        One model per class, in the order of the sorted class labels:
        distributions (copied, their parameters learnt) or mixture
        estimators (cloned and fitted). ``None``: one normal distribution
        per feature for every class (Gaussian naive Bayes).
    priors : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes; ``None``: their weighted
        frequencies.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same model for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    distributions_ : list
        The fitted model of each class.
    class_count_ : ndarray of shape (n_classes,)
        Weighted number of rows of each class.
    class_prior_ : ndarray of shape (n_classes,)
        Prior probability of each class.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.distributions import Exponential, IndependentComponents
    >>> from sklearn_ooc.naive_bayes import BayesClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.exponential(1.0, 300), rng.exponential(9.0, 300)])
    >>> y = np.repeat([0, 1], 300)
    >>> models = [IndependentComponents([Exponential()]) for _ in range(2)]
    >>> clf = BayesClassifier(models, batch_size=128).fit(X[:, None], y)
    >>> [round(1 / float(d.distributions[0].rate)) for d in clf.distributions_]
    [1, 9]
    >>> clf.predict([[0.1], [40.0]])
    array([0, 1])
    """

    _parameter_constraints: dict = {
        "distributions": [list, None],
        "priors": ["array-like", None],
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    _accept_sparse = False

    def __init__(
        self,
        distributions=None,
        *,
        priors=None,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.distributions = distributions
        self.priors = priors
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _templates(self, n_classes):
        if self.distributions is None:
            normals = IndependentComponents(
                [Normal() for _ in range(self.n_features_in_)]
            )
            return [copy.deepcopy(normals) for _ in range(n_classes)]
        if len(self.distributions) != n_classes:
            raise ValueError(
                f"distributions holds {len(self.distributions)} models for "
                f"{n_classes} classes: give one model per class, in the order of "
                "the sorted labels"
            )
        return [
            copy.deepcopy(d) if isinstance(d, Distribution) else clone(d)
            for d in self.distributions
        ]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, batch_size=None):
        """Fit the model of every class and the priors.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or table of shape \
                (n_samples, n_features)
            The rows; a path names a ``.npy`` file.
        y : array-like of shape (n_samples,)
            The class of each row.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights (of the distributions' fits and the priors).
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
        """
        with self._transaction():
            source = self._source(
                X, y, sample_weight, reset=True, batch_size=batch_size, fitting=True
            )
            labels = self._reduce(
                source, desc="classes", summarize=lambda b: _label_weights(b)
            )
            classes = check_fitted_counts(labels, sum(labels.values()))
            templates = self._templates(len(classes))
            by_label = dict(zip(classes.tolist(), templates, strict=True))
            closed = {k: d for k, d in by_label.items() if isinstance(d, Distribution)}
            if closed:

                def summarize(batch):
                    return _class_statistics(batch, closed)

                stats = self._reduce(source, desc="fit", summarize=summarize)
                for key, model in closed.items():
                    if stats.stats.get(key) is None:
                        raise ValueError(
                            f"class {key!r} has no row of positive weight: its "
                            "distribution cannot be fitted"
                        )
                    model._update_from(stats.stats[key])
            self._fit_mixtures(source, X, y, sample_weight, by_label, closed)
            counts = np.array([labels[k] for k in classes.tolist()], dtype=float)
            self.classes_ = classes
            self.distributions_ = [by_label[k] for k in classes.tolist()]
            self.class_count_ = counts
            self.class_prior_ = self._class_prior(counts)
            self._is_fitted = True
        return self

    def _fit_mixtures(self, source, X, y, sample_weight, by_label, closed):
        """Each mixture by EM over the rows of its class alone."""
        mixtures = {k: m for k, m in by_label.items() if k not in closed}
        if not mixtures:
            return
        labels = np.ravel(np.asarray(y))
        rows = open_array(X)
        for key, mixture in mixtures.items():
            (index,) = np.nonzero(labels == key)
            params = {"batch_size": source.batch_size}
            if "n_jobs" in mixture.get_params():
                params["n_jobs"] = self.n_jobs
            mixture.set_params(**params)
            weights = None if sample_weight is None else np.asarray(sample_weight)
            if weights is None:
                mixture.fit(rows[index])
            else:
                mixture.fit(rows[index], sample_weight=weights[index])

    def _class_prior(self, counts):
        if self.priors is None:
            return counts / counts.sum()
        priors = np.asarray(self.priors, dtype=np.float64)
        if priors.shape[0] != len(counts):
            raise ValueError("Number of priors must match number of classes.")
        if not np.isclose(priors.sum(), 1.0):
            raise ValueError("The sum of the priors should be 1.")
        if np.any(priors < 0):
            raise ValueError("Priors must be non-negative.")
        return priors

    def _joint_log_likelihood(self, X):
        X = np.asarray(X, dtype=np.float64)
        columns = []
        for model in self.distributions_:
            if isinstance(model, Distribution):
                columns.append(model.log_probability(X))
            else:
                columns.append(model.score_samples(X))
        with np.errstate(divide="ignore"):
            return np.column_stack(columns) + np.log(self.class_prior_)

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
            return jll - logsumexp(jll, axis=1, keepdims=True)

        return self._map_rows(X, rows, desc="predict")


def _label_weights(batch):
    labels = np.ravel(batch.y)
    keys, inverse = np.unique(labels, return_inverse=True)
    w = batch.sample_weight
    totals = np.bincount(inverse, weights=w, minlength=len(keys))
    return _Weights(
        {
            (k.item() if hasattr(k, "item") else k): float(t)
            for k, t in zip(keys, totals, strict=True)
        }
    )


class _Weights(dict):
    """Total row weight of each label; merging adds them."""

    def __add__(self, other):
        out = _Weights(self)
        for key, value in other.items():
            out[key] = out.get(key, 0.0) + value
        return out


def _class_statistics(batch, models):
    X = np.asarray(batch.X, dtype=np.float64)
    labels = np.ravel(batch.y)
    w = batch.sample_weight
    weight, stats = {}, {}
    for label in np.unique(labels):
        key = label.item() if hasattr(label, "item") else label
        model = models.get(key)
        if model is None:
            continue
        mask = labels == label
        rows = X[mask]
        weights = np.ones(len(rows)) if w is None else w[mask]
        weight[key] = float(weights.sum())
        if not weight[key] > 0:
            stats[key] = None
            continue
        model._check(rows)
        stats[key] = model._stats(rows, weights)
    return _ClassStatistics(weight, stats)
