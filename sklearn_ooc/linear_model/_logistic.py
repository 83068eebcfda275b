"""L2-regularized logistic regression by Newton iterations over streamed data."""

from __future__ import annotations

import os
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from scipy.special import expit, log_expit, logsumexp, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from .._out_of_core import register
from .._stats import LabelSet
from ..base import IterativeMixin, StreamingClassifierMixin


@dataclass
class _NewtonStats:
    """Loss, gradient and Hessian of the data part of the objective (sums)."""

    count: int
    weight: float
    loss: float
    gradient: np.ndarray
    hessian: np.ndarray

    def scaled(self, factor):
        return _NewtonStats(
            self.count,
            self.weight * factor,
            self.loss * factor,
            self.gradient * factor,
            self.hessian * factor,
        )

    def __add__(self, other):
        return _NewtonStats(
            self.count + other.count,
            self.weight + other.weight,
            self.loss + other.loss,
            self.gradient + other.gradient,
            self.hessian + other.hessian,
        )


def _design(X, shift, fit_intercept):
    """Rows shifted near the data, with a column of ones for the intercept."""
    Z = np.asarray(X, dtype=np.float64) - shift
    if fit_intercept:
        Z = np.hstack([Z, np.ones((Z.shape[0], 1))])
    return Z


def _from_logistic_regression(params):
    """LogisticRegression's parameters as ours (for ``out_of_core``).

    Every solver but liblinear minimizes the one objective that the Newton
    iterations solve exactly; liblinear also penalizes the intercept.
    """
    if params.pop("solver") == "liblinear":
        raise ValueError(
            "LogisticRegression(solver='liblinear') also penalizes the "
            "intercept, a model StreamingLogisticRegression does not fit; use "
            "solver='newton-cholesky' or 'lbfgs'"
        )
    if params.get("penalty") == "l2":
        del params["penalty"]
    # Used by the solvers that draw (sag, saga) or scale the intercept
    # (liblinear) only: the solution does not depend on them.
    del params["random_state"], params["intercept_scaling"]
    return params


@register(LogisticRegression, convert=_from_logistic_regression)
class StreamingLogisticRegression(
    StreamingClassifierMixin, ClassifierMixin, IterativeMixin, BaseEstimator
):
    """Logistic regression fitted exactly by Newton iterations over data on disk.

    The objective is scikit-learn's: the mean log-loss plus
    ``||coef||^2 / (2 C n)`` (the intercept is not penalized); binary
    problems use one coefficient vector, more classes the multinomial
    (softmax) loss. Each iteration is one pass computing the loss, its
    gradient and its Hessian (``(d + 1) K`` squared entries), then a Newton
    step solved in memory; a step that does not decrease the loss is halved
    on the next pass. The solution equals
    ``LogisticRegression(solver="newton-cholesky")`` to the tolerance. Rows
    are shifted by the mean of the first rows before the products, so data
    far from the origin keep a well-conditioned Hessian.

    Parameters
    ----------
    C : float, default=1.0
        Inverse strength of the L2 penalty.
    fit_intercept : bool, default=True
        Whether to fit (unpenalized) intercepts.
    tol : float, default=1e-4
        Stop when the largest entry of the gradient is below ``tol`` or half
        the squared Newton decrement is (scikit-learn's criteria).
    max_iter : int, default=100
        Newton iterations (passes) at most.
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 prints a line per iteration; 2 adds a progress bar.
    checkpoint : str or os.PathLike, default=None
        A file that receives the state of the fit, atomically, after every
        iteration. A fit that finds a checkpoint of the same data and
        parameters resumes from it; one of other data or parameters is
        refused. See :ref:`checkpoints`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    n_iter_ : ndarray of shape (1,)
        Newton iterations run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The in-memory estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingLogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> clf = StreamingLogisticRegression(batch_size=100).fit(X, y)
    >>> clf.predict([[2.0, 1.0], [-1.0, -2.0]]).tolist()
    [1, 0]
    """

    _requires_y = True
    _y_numeric = False
    _single_target = True
    _not_converged = (
        "Newton solver did not converge; increase max_iter or scale the data."
    )

    # What IterativeMixin reads that logistic regression does not take.
    n_init = 1
    warm_start = False
    random_state = None
    decay = None
    batches_per_epoch = None
    verbose_interval = 1

    _parameter_constraints: dict = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "checkpoint": [str, os.PathLike, None],
        **IterativeMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        C=1.0,
        *,
        fit_intercept=True,
        tol=1e-4,
        max_iter=100,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
        checkpoint=None,
    ):
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.checkpoint = checkpoint

    # -- the problem ---------------------------------------------------------------

    @property
    def _n_outputs(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _initialize(self, source, random_state):
        labels = (
            self._engine()
            .reduce(
                source,
                range(source.n_batches),
                lambda b: LabelSet.of(b.y),
                desc="classes",
            )
            .labels
        )
        kind = type_of_target(labels)
        if kind.startswith("continuous"):
            raise ValueError(f"Unknown label type: {kind}")
        if len(labels) < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {labels[0]!r}"
            )
        self.classes_ = labels
        head = source.take(np.arange(min(source.n_samples, 64)))
        self._shift = (
            head.mean(axis=0) if self.fit_intercept else np.zeros(source.n_features)
        )
        width = source.n_features + self.fit_intercept
        self._weights = np.zeros((self._n_outputs, width))
        self._step = None
        self._previous = None

    def _summarize(self, batch):
        Z = _design(batch.X, self._shift, self.fit_intercept)
        codes = np.searchsorted(self.classes_, np.ravel(batch.y))
        w = (
            np.ones(batch.n_samples)
            if batch.sample_weight is None
            else (batch.sample_weight)
        )
        scores = Z @ self._weights.T
        width = Z.shape[1]
        if self._n_outputs == 1:
            t = (codes == 1).astype(np.float64)
            s = scores[:, 0]
            loss = -w @ (t * log_expit(s) + (1 - t) * log_expit(-s))
            p = expit(s)
            gradient = ((w * (p - t)) @ Z)[None, :]
            root = np.sqrt(w * p * (1 - p))[:, None] * Z
            hessian = root.T @ root
        else:
            k = self._n_outputs
            log_norm = logsumexp(scores, axis=1)
            loss = w @ (log_norm - scores[np.arange(batch.n_samples), codes])
            P = softmax(scores, axis=1)
            onehot = np.eye(k)[codes]
            gradient = ((P - onehot) * w[:, None]).T @ Z
            hessian = np.zeros((k, width, k, width))
            for a in range(k):
                for b in range(a, k):
                    h = w * P[:, a] * ((a == b) - P[:, b])
                    block = (Z * h[:, None]).T @ Z
                    hessian[a, :, b, :] = block
                    hessian[b, :, a, :] = block.T
            hessian = hessian.reshape(k * width, k * width)
        return _NewtonStats(
            batch.n_samples, float(w.sum()), float(loss), gradient, hessian
        )

    @available_if(lambda self: False)
    def partial_fit(self, X, y=None):  # pragma: no cover - hidden
        """Not offered: Newton steps need the whole data (as scikit-learn)."""

    def _objective(self, stats):
        return -self._penalized(stats)[0]

    def _penalized(self, stats):
        """Objective, gradient and Hessian with the penalty, per unit weight."""
        n = stats.weight
        if not n > 0:
            raise ValueError("Sample weights must contain at least one non-zero number")
        lam = 1.0 / (self.C * n)
        W = self._weights
        penalized = W[:, :-1] if self.fit_intercept else W
        loss = stats.loss / n + 0.5 * lam * np.sum(penalized**2)
        gradient = stats.gradient / n
        gradient[:, : penalized.shape[1]] += lam * penalized
        hessian = stats.hessian / n
        width = W.shape[1]
        for k in range(W.shape[0]):
            idx = k * width + np.arange(penalized.shape[1])
            hessian[idx, idx] += lam
        return loss, gradient.ravel(), hessian

    def _from_summaries(self, stats):
        loss, gradient, hessian = self._penalized(stats)
        self._gradient_max = float(np.max(np.abs(gradient)))
        if self._previous is not None and self._step is not None:
            previous_loss, previous_slope = self._previous
            # Armijo on the step just taken; else halve it and look again.
            if loss > previous_loss + 1e-4 * self._step_size * previous_slope and (
                self._step_size > 1e-8
            ):
                self._step_size /= 2
                self._weights = self._origin + self._step_size * self._step
                self._decrement = np.inf
                return
        try:
            factor = linalg.cho_factor(hessian, check_finite=False)
            step = -linalg.cho_solve(factor, gradient, check_finite=False)
        except linalg.LinAlgError:
            # The softmax with intercepts is invariant to a shift of all of
            # them: a least-squares step along the other directions.
            step = -linalg.lstsq(hessian, gradient, check_finite=False)[0]
        self._decrement = float(-gradient @ step)
        self._origin = self._weights.copy()
        self._step = step.reshape(self._weights.shape)
        self._step_size = 1.0
        self._previous = (loss, float(gradient @ step))
        self._weights = self._origin + self._step

    def _has_converged(self, change):
        return self._gradient_max <= self.tol or 0.5 * self._decrement <= self.tol

    def _get_parameters(self):
        return self._weights.copy()

    def _set_parameters(self, params):
        self._weights = params.copy()
        W = params
        if self.fit_intercept:
            coef, intercept = W[:, :-1], W[:, -1] - W[:, :-1] @ self._shift
        else:
            coef, intercept = W, np.zeros(W.shape[0])
        if self._n_outputs > 1 and self.fit_intercept:
            intercept = intercept - intercept.mean()
        self.coef_ = coef.copy()
        self.intercept_ = intercept

    # -- fitting and prediction --------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, batch_size=None):
        """Newton iterations over ``X``, one pass each.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, LazyArray or array store \
                of shape (n_samples, n_features)
            Rows.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        batch_size : int or "auto", default=None
            Rows per batch for this call.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with self._transaction():
            self._fit_iterations(X, y, sample_weight, batch_size, None)
            if self.max_iter == 0:
                self._set_parameters(self._weights)
            self.n_iter_ = np.array([self.n_iter_], dtype=np.int32)
        return self

    def decision_function(self, X):
        """Scores of the classes, streamed (1-D for two classes).

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        out = self._map_rows(X, lambda b: b.X @ self.coef_.T + self.intercept_)
        return out[:, 0] if out.shape[1] == 1 else out

    def _predict_batch(self, X):
        scores = X @ self.coef_.T + self.intercept_
        if scores.shape[1] == 1:
            return self.classes_[(scores[:, 0] > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X):
        """Class probabilities, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1 - p, p])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """Logarithms of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        return scores - logsumexp(scores, axis=1, keepdims=True)
