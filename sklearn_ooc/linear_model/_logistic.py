"""Logistic regression by (proximal) Newton iterations over streamed data."""

from __future__ import annotations

import os
import warnings
from contextvars import ContextVar
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from scipy.special import expit, log_expit, logsumexp, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.callback import CallbackSupportMixin
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model._base import SparseCoefMixin
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from .._kernels import logistic_rows, subtract_shift
from .._out_of_core import register
from ..base import IterativeMixin, StreamingClassifierMixin

# Bytes of a chunk of design rows in a Newton pass (a few in L2 cache).
_CHUNK_BYTES = 1 << 20

_SOLVERS = {"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"}

_LIBLINEAR_MULTICLASS = (
    "The 'liblinear' solver does not support multiclass classification"
    " (n_classes >= 3). Either use another solver or wrap the "
    "estimator in a OneVsRestClassifier to keep applying a "
    "one-versus-rest scheme."
)


def _not_converged_message(solver, n_iter, max_iter, objective):
    """scikit-learn's ConvergenceWarning text for ``solver``."""
    if solver == "lbfgs":
        return (
            f"lbfgs failed to converge after {n_iter} iteration(s) (status=1):\n"
            "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT\n\n"
            "Increase the number of iterations to improve the convergence "
            f"(max_iter={max_iter}).\n"
            "You might also want to scale the data as shown in:\n"
            "    https://scikit-learn.org/stable/modules/preprocessing.html\n"
            "Please also refer to the documentation for alternative solver options:\n"
            "    https://scikit-learn.org/stable/modules/linear_model.html"
            "#logistic-regression"
        )
    if solver == "newton-cg":
        return (
            f"newton-cg failed to converge at loss = {objective}. Increase the "
            "number of iterations."
        )
    if solver in ("sag", "saga"):
        return "The max_iter was reached which means the coef_ did not converge"
    if solver == "liblinear":
        return "Liblinear failed to converge, increase the number of iterations."
    return f"Newton solver did not converge after {n_iter} iterations."


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


@dataclass
class _ClassTotals:
    """The distinct labels of a set of rows and the sum of their weights."""

    labels: np.ndarray
    weights: np.ndarray
    counts: np.ndarray
    largest: float = -np.inf

    @classmethod
    def of(cls, y, sample_weight, X=None):
        labels, codes = np.unique(np.ravel(y), return_inverse=True)
        weights = np.bincount(
            codes.ravel(), weights=sample_weight, minlength=len(labels)
        ).astype(np.float64)
        counts = np.bincount(codes.ravel(), minlength=len(labels))
        largest = -np.inf if X is None or not np.prod(X.shape) else float(X.max())
        return cls(labels, weights, counts, largest)

    def __add__(self, other):
        labels = np.union1d(self.labels, other.labels)
        weights = np.zeros(len(labels))
        # The labels of each side are distinct: no index repeats.
        weights[np.searchsorted(labels, self.labels)] += self.weights
        weights[np.searchsorted(labels, other.labels)] += other.weights
        counts = np.zeros(len(labels), dtype=np.int64)
        counts[np.searchsorted(labels, self.labels)] += self.counts
        counts[np.searchsorted(labels, other.labels)] += other.counts
        largest = max(self.largest, other.largest)
        return _ClassTotals(labels, weights, counts, largest)


def _penalty_strengths(penalty, C, l1_ratio):
    """Strengths ``(l2, l1)`` of ``l2 / 2 ||w||^2 + l1 ||w||_1`` next to the
    summed loss, as scikit-learn's saga reads ``penalty``, ``C`` and
    ``l1_ratio``."""
    if penalty is None:
        return 0.0, 0.0
    if penalty == "l2":
        return 1.0 / C, 0.0
    if penalty == "l1":
        return 0.0, 1.0 / C
    return (1.0 - l1_ratio) / C, l1_ratio / C


def _newton_step(hessian, gradient):
    """The step ``-H^-1 g`` (least squares if ``H`` is singular)."""
    try:
        factor = linalg.cho_factor(hessian, check_finite=False)
        return -linalg.cho_solve(factor, gradient, check_finite=False)
    except linalg.LinAlgError:
        # Collinear features without a penalty: the smallest step.
        return -linalg.lstsq(hessian, gradient, check_finite=False)[0]


def _lasso_quadratic(hessian, gradient, weights, l1, penalized, *, max_sweeps=1000):
    """Minimize ``g.(z - w) + (z - w)' H (z - w) / 2 + l1 sum |z_j|`` over ``z``.

    The sum runs over the ``penalized`` entries of ``z``. Cyclic coordinate
    descent with exact soft-thresholding (so exact zeros), sweeping the
    nonzero entries between full sweeps as glmnet does; it stops when a full
    sweep would change no entry's gradient term, ``H_jj |dz_j|``, by more
    than rounding does.
    """
    z = np.array(weights, dtype=np.float64)
    diagonal = np.diag(hessian).copy()
    every = np.flatnonzero(diagonal > 0)
    scale = max(
        np.max(np.abs(gradient)), np.max(diagonal) * max(np.max(np.abs(z)), 1.0)
    )
    threshold = 1e-11 * scale
    coordinates = every
    for _ in range(max_sweeps):
        if coordinates is every:
            # Afresh at each full sweep: the updates below drift by rounding.
            residual = gradient + hessian @ (z - weights)
        largest = 0.0
        for j in coordinates:
            a = diagonal[j]
            u = z[j] - residual[j] / a
            if penalized[j]:
                u = np.sign(u) * max(abs(u) - l1 / a, 0.0)
            delta = u - z[j]
            if delta != 0.0:
                z[j] = u
                residual += delta * hessian[j]
                largest = max(largest, a * abs(delta))
        converged = largest <= threshold
        if coordinates is every:
            if converged:
                break
            coordinates = every[(z[every] != 0) | ~penalized[every]]
        elif converged:
            coordinates = every
    return z


def _smallest_subgradient(gradient, weights, l1, penalized):
    """Absolute entries of the smallest subgradient of the penalized objective
    (of the gradient without an L1 term)."""
    g = np.abs(gradient)
    if l1 > 0:
        signed = gradient + l1 * np.sign(weights)
        at_zero = np.maximum(np.abs(gradient) - l1, 0.0)
        g = np.where(penalized, np.where(weights != 0, np.abs(signed), at_zero), g)
    return g


def _optimality(gradient, weights, l1, penalized):
    """Largest entry of the smallest subgradient of the penalized objective
    (the largest gradient entry without an L1 term)."""
    return float(np.max(_smallest_subgradient(gradient, weights, l1, penalized)))


def _trust_region_step(hessian, gradient, radius):
    """Conjugate gradients on ``H s = -g`` inside ``||s|| <= radius``.

    Stops when the residual is a tenth of ``||g||`` or the step reaches the
    boundary (then on it), as liblinear's trust-region Newton method does.
    Returns the step and the residual ``-g - H s``.
    """
    step = np.zeros_like(gradient)
    residual = -gradient
    direction = residual.copy()
    squared = residual @ residual
    stop = 0.1 * linalg.norm(gradient)
    for _ in range(10 * len(gradient) + 100):
        if linalg.norm(residual) <= stop:
            break
        curved = hessian @ direction
        alpha = squared / (direction @ curved)
        step += alpha * direction
        if linalg.norm(step) > radius:
            step -= alpha * direction
            along, size = step @ direction, step @ step
            length = direction @ direction
            room = radius * radius - size
            root = np.sqrt(along * along + length * room)
            alpha = room / (along + root) if along >= 0 else (root - along) / length
            step += alpha * direction
            residual -= alpha * curved
            break
        residual -= alpha * curved
        new_squared = residual @ residual
        direction = residual + (new_squared / squared) * direction
        squared = new_squared
    return step, residual


# The callback hooks of the fit under way (None: no per-iteration hooks). A
# context variable rather than an attribute: checkpoints pickle the
# estimator's attributes, and the hooks hold the training data.
_ITERATION_HOOKS = ContextVar("logistic_iteration_hooks", default=None)


class _IterationHooks:
    """scikit-learn's per-iteration callback tasks of the lbfgs solver.

    As scikit-learn's bridge from ``scipy.optimize.minimize``: a task begins
    with the starting coefficients; each Newton iteration ends its task with
    the coefficients it reached and begins the next; the fit ends the last,
    never run, task without coefficients.
    """

    def __init__(self, context, X, y, metadata):
        self.context, self.X, self.y, self.metadata = context, X, y, metadata
        self.current = None
        self.n_ended = 0

    def begin(self, estimator):
        # scikit-learn's task name, for callbacks that look for it.
        self.current = self.context.subcontext(task_name="lbfgs-iter")
        self.current.call_on_fit_task_begin(
            estimator=estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes=estimator._reconstruction_attributes,
        )

    def end(self, estimator):
        self.current.call_on_fit_task_end(
            estimator=estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes=estimator._reconstruction_attributes,
        )
        self.n_ended += 1

    def close(self, estimator):
        if self.current is None:
            return
        if self.n_ended == 0:
            # max_iter=0: scikit-learn's lbfgs still reports one iteration
            # (that leaves the coefficients as they were).
            self.end(estimator)
            self.begin(estimator)
        self.current.call_on_fit_task_end(estimator=estimator)
        self.current = None


@register(LogisticRegression)
class StreamingLogisticRegression(
    CallbackSupportMixin,
    StreamingClassifierMixin,
    ClassifierMixin,
    SparseCoefMixin,
    IterativeMixin,
    BaseEstimator,
):
    """Logistic regression fitted exactly by Newton iterations over data on disk.

    A drop-in for :class:`sklearn.linear_model.LogisticRegression`: the same
    parameters, defaults, objectives and errors, with the rows streamed from
    disk. The objective is scikit-learn's, ``C`` times the (weighted) sum of
    the log-losses plus ``(1 - l1_ratio) / 2 ||coef||^2 + l1_ratio ||coef||_1``
    (the intercept is not penalized); binary problems use one coefficient
    vector, more classes the multinomial (softmax) loss. With
    ``solver='liblinear'`` it is liblinear's: the intercept is the
    coefficient of a constant column of value ``intercept_scaling``, times
    ``intercept_scaling``, and that coefficient is penalized like the others
    (binary problems only, as scikit-learn 1.9).

    Each iteration is one pass computing the loss, its gradient and its
    Hessian (``(d + 1) K`` squared entries). Without an L1 term the Newton
    step is then solved in memory; with one (``l1_ratio > 0``) the
    L1-penalized quadratic model is minimized in memory by coordinate descent
    (proximal Newton, which gives exact zeros). A step that does not decrease
    the objective enough (Armijo) is halved on the next pass. Every solver
    name runs these iterations, to the minimizer that scikit-learn's solver
    approaches within its tolerance, except liblinear with an L2 penalty:
    its trust-region Newton method, one pass per trial point, with conjugate
    gradients on the summed Hessian, so the fit stops where liblinear's does
    (the same coefficients to rounding, for ``dual=False``). Rows are
    shifted by the mean of the first rows before the products, so data far
    from the origin keep a well-conditioned Hessian (not with liblinear,
    whose penalty of the intercept the shift would mix with the others).

    Parameters
    ----------
    penalty : {'l1', 'l2', 'elasticnet', None}, default='l2'
        The norm of the penalty, as scikit-learn's (deprecated there since
        1.8, with the same :class:`FutureWarning` here): ``l1_ratio=0`` is
        ``'l2'``, ``l1_ratio=1`` is ``'l1'``, ``C=np.inf`` is ``None``.
    C : float, default=1.0
        Inverse strength of the penalty; ``np.inf`` fits no penalty.
    l1_ratio : float, default=0.0
        The elastic-net mixing, ``0 <= l1_ratio <= 1``: the penalty is
        ``l1_ratio * ||coef||_1 + (1 - l1_ratio) / 2 * ||coef||^2``. As in
        scikit-learn, ``l1_ratio=1`` needs ``solver='saga'`` or
        ``'liblinear'``, ``0 < l1_ratio < 1`` needs ``'saga'`` (the others
        raise its errors).
    dual : bool, default=False
        liblinear's dual formulation (L2 penalty only). Its minimizer is the
        primal one, which the Newton iterations fit: the result does not
        depend on ``random_state``, unlike liblinear's dual coordinate
        descent. Other solvers raise, as scikit-learn's.
    tol : float, default=1e-4
        Stopping tolerance, read as each scikit-learn solver reads it. lbfgs,
        newton-cg and newton-cholesky: the largest entry of the gradient per
        unit weight (with an L1 term: of the smallest subgradient) below
        ``tol``, or half the squared Newton decrement below ``tol``. sag and
        saga: the largest change of a weight in a Newton step, relative to
        the largest weight. liblinear: the 2-norm of the gradient (with L1:
        the largest entry of the smallest subgradient) below
        ``tol * min(n_pos, n_neg) / n_samples`` times its value at zero. But
        for liblinear's L2 penalty, the fit stops after the step of the
        iteration that meets the tolerance, so it is usually much closer to
        the minimizer.
    fit_intercept : bool, default=True
        Whether to fit intercepts (unpenalized, except with liblinear).
    intercept_scaling : float, default=1
        With ``solver='liblinear'`` only: the value of the constant column
        whose (penalized) coefficient times ``intercept_scaling`` is the
        intercept; larger values penalize the intercept less.
    class_weight : dict or 'balanced', default=None
        Weights of the classes, ``{label: weight}``, multiplied into the
        sample weights. ``'balanced'`` gives
        ``n_samples / (n_classes * np.bincount(y))`` with the counts weighted
        by ``sample_weight``, counted in the pass that finds the labels.
    random_state : int, RandomState instance or None, default=None
        Accepted for compatibility; unused: the Newton iterations draw
        nothing.
    solver : {'lbfgs', 'liblinear', 'newton-cg', 'newton-cholesky', 'sag', \
            'saga'}, default='lbfgs'
        Which scikit-learn solver's problem, errors, stopping rule and
        messages to follow. All but liblinear minimize the same objective;
        liblinear also penalizes the intercept (see above). The (proximal)
        Newton iterations above solve each, whatever the name. As in
        scikit-learn, callbacks see the iterations of ``'lbfgs'`` only.
    max_iter : int, default=100
        Newton iterations (passes) at most.
    verbose : int, default=0
        1 prints a line per iteration; 2 adds a progress bar.
    warm_start : bool, default=False
        Start the iterations from the coefficients of the previous fit (of
        the same shape), otherwise from zero. Ignored by liblinear, as in
        scikit-learn.
    n_jobs : int, default=None
        Threads summarizing batches (the result is the same for every
        value).
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    checkpoint : str or os.PathLike, default=None
        A file that receives the state of the fit, atomically, after every
        iteration. A fit that finds a checkpoint of the same data and
        parameters resumes from it; one of other data or parameters is
        refused. See :ref:`checkpoints`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels.
    coef_ : ndarray or CSR matrix of shape (1, n_features) or \
            (n_classes, n_features)
        Coefficients (a sparse matrix after :meth:`sparsify`), float32 for
        float32 rows (float64 with liblinear), as scikit-learn's.
    intercept_ : ndarray of shape (1,) or (n_classes,), or float
        Intercepts (zeros if ``fit_intercept=False``; with liblinear then
        the float ``0.0``, as scikit-learn's).
    n_iter_ : ndarray of shape (1,), dtype int32
        Newton iterations (passes over the data) run; a step halved by the
        line search counts as an iteration. With liblinear's L2 penalty, as
        liblinear counts them: the trust-region steps it accepted (``max_iter``
        when it stopped there).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The in-memory estimator.

    Notes
    -----
    Memory: a chunk of shifted rows (1 MiB) per thread plus the Hessian,
    ``((n_features + 1) K)^2`` floats, whatever the number of rows.
    Computations are in float64 for float32 input too; ``coef_`` and
    ``intercept_`` are then rounded to float32 as scikit-learn returns them.

    With more than two classes the model does not change when one vector is
    added to the coefficients of every class; the penalty picks one of them,
    except a pure L1 penalty (``l1_ratio=1``) with an even number of classes,
    whose minimizers may form a segment (all of the same objective). Then
    ``coef_`` may differ from saga's by such a shift, and predictions
    slightly. Without a penalty the coefficients are centered over the
    classes, as scikit-learn's solvers leave them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingLogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> clf = StreamingLogisticRegression(batch_size=100).fit(X, y)
    >>> clf.predict([[2.0, 1.0, 0.0], [-1.0, -2.0, 0.0]]).tolist()
    [1, 0]

    An L1 penalty sets the coefficient of the useless feature to zero:

    >>> sparse = StreamingLogisticRegression(
    ...     solver="saga", l1_ratio=1, C=0.05, batch_size=100
    ... )
    >>> (sparse.fit(X, y).coef_ == 0).tolist()
    [[False, False, True]]

    liblinear's model, whose penalty reaches the intercept, is fitted too:

    >>> clf = StreamingLogisticRegression(solver="liblinear", batch_size=100)
    >>> clf.fit(X, y).predict([[2.0, 1.0, 0.0]]).tolist()
    [1]
    """

    _requires_y = True
    _y_numeric = False
    _single_target = True

    # What IterativeMixin reads that logistic regression does not take.
    n_init = 1
    decay = None
    batches_per_epoch = None
    verbose_interval = 1
    # A pass measures minus the penalized loss per unit weight.
    _objective_name = "Penalized log-likelihood"

    _parameter_constraints: dict = {
        "penalty": [
            StrOptions({"l1", "l2", "elasticnet"}),
            None,
            Hidden(StrOptions({"deprecated"})),
        ],
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "dual": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "random_state": ["random_state"],
        "solver": [StrOptions(_SOLVERS)],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "checkpoint": [str, os.PathLike, None],
        **IterativeMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        penalty="deprecated",
        *,
        C=1.0,
        l1_ratio=0.0,
        dual=False,
        tol=1e-4,
        fit_intercept=True,
        intercept_scaling=1,
        class_weight=None,
        random_state=None,
        solver="lbfgs",
        max_iter=100,
        verbose=0,
        warm_start=False,
        n_jobs=None,
        batch_size="auto",
        checkpoint=None,
    ):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.checkpoint = checkpoint

    # _initialize sets these; the defaults serve checkpoints that predate them.
    _liblinear = False
    _intercept_column = 1.0
    _fit_dtype = np.dtype(np.float64)
    _trust_region = None

    @property
    def _not_converged(self):
        # IterativeMixin warns with this after setting n_iter_ and
        # lower_bound_ (minus the objective per unit weight).
        return _not_converged_message(
            self.solver, self.n_iter_, self.max_iter, -self.lower_bound_
        )

    def set_callbacks(self, *callbacks):
        """Set callbacks for the estimator (:mod:`sklearn.callback`).

        As scikit-learn's, the callbacks see the iterations of
        ``solver='lbfgs'`` only (one task per Newton iteration here); with
        another solver they see the fit as one task, with a warning.

        Parameters
        ----------
        *callbacks : callback instances
            The callbacks to set.

        Returns
        -------
        self : estimator instance
            The estimator instance itself.
        """
        if self.solver != "lbfgs":
            warnings.warn(
                "Callbacks are only supported in LogisticRegression for"
                f" solver='lbfgs'. This estimator has solver='{self.solver}', "
                "callbacks will be ignored during the solving of the regression.",
                stacklevel=2,
            )
        return super().set_callbacks(*callbacks)

    # -- the problem ---------------------------------------------------------------

    @property
    def _n_outputs(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _check_penalty(self):
        """``(penalty, C)`` as scikit-learn's ``fit`` reads them, with its
        warnings and errors."""
        if self.penalty == "deprecated":
            if self.l1_ratio == 0 or self.l1_ratio is None:
                penalty = "l2"
                if self.l1_ratio is None:
                    warnings.warn(
                        "'l1_ratio=None' was deprecated in version 1.8 and will "
                        "trigger an error in 1.10. Use 0<=l1_ratio<=1 instead.",
                        FutureWarning,
                        stacklevel=2,
                    )
            elif self.l1_ratio == 1:
                penalty = "l1"
            else:
                penalty = "elasticnet"
            if self.C == np.inf:
                penalty = None
        else:
            penalty = self.penalty
            warnings.warn(
                "'penalty' was deprecated in version 1.8 and will be removed in "
                "1.10. To avoid this warning, leave 'penalty' set to its default "
                "value and use 'l1_ratio' or 'C' instead. Use l1_ratio=0 instead "
                "of penalty='l2', l1_ratio=1 instead of penalty='l1', l1_ratio "
                "set to a float between 0 and 1 instead of penalty='elasticnet', "
                "and C=np.inf instead of penalty=None.",
                FutureWarning,
                stacklevel=2,
            )
        # scikit-learn's _check_solver: every solver here fits any penalty,
        # but a drop-in refuses what scikit-learn refuses.
        solver = self.solver
        if solver not in ("liblinear", "saga") and penalty not in ("l2", None):
            raise ValueError(
                f"Solver {solver} supports only 'l2' or None penalties, got "
                f"{penalty} penalty."
            )
        if solver != "liblinear" and self.dual:
            raise ValueError(
                f"Solver {solver} supports only dual=False, got dual={self.dual}"
            )
        if penalty == "elasticnet" and solver != "saga":
            raise ValueError(
                f"Only 'saga' solver supports elasticnet penalty, got solver={solver}."
            )
        if solver == "liblinear" and penalty is None:
            raise ValueError(
                "C=np.inf as well as penalty=None is not supported for the "
                "liblinear solver"
            )
        if penalty != "elasticnet" and (
            self.l1_ratio is not None and 0 < self.l1_ratio < 1
        ):
            warnings.warn(
                "l1_ratio parameter is only used when penalty is 'elasticnet'. "
                f"Got (penalty={penalty})",
                stacklevel=2,
            )
        if (self.penalty == "l2" and self.l1_ratio != 0) or (
            self.penalty == "l1" and self.l1_ratio != 1
        ):
            warnings.warn(
                f"Inconsistent values: penalty={self.penalty} with "
                f"l1_ratio={self.l1_ratio}. penalty is deprecated. Please use "
                "l1_ratio only.",
                stacklevel=2,
            )
        if penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
        if self.penalty is None and self.C != 1.0:
            warnings.warn(
                "Setting penalty=None will ignore the C and l1_ratio parameters",
                stacklevel=2,
            )
        return penalty, np.inf if self.penalty is None else self.C

    def _warm_start_coef(self):
        """The coefficients (and intercepts) a warm start begins from."""
        if not (self.warm_start and self.__sklearn_is_fitted__()):
            return None
        if self.solver == "liblinear":
            # As scikit-learn's liblinear: every fit starts from zero.
            return None
        coef = self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_
        if self.fit_intercept:
            return np.hstack([coef, np.asarray(self.intercept_)[:, None]])
        return np.array(coef, dtype=np.float64)

    def _initialize(self, source, random_state):
        penalty, C = self._check_penalty()
        self._strengths = _penalty_strengths(penalty, C, self.l1_ratio)
        start = self._warm_start_coef()
        liblinear = self.solver == "liblinear"
        # scikit-learn's dtype=[np.float64, np.float32]: float32 stays, except
        # for liblinear, whose coefficients are float64.
        self._fit_dtype = np.dtype(
            np.float32
            if np.dtype(source.X.dtype) == np.float32 and not liblinear
            else np.float64
        )
        totals = self._engine().reduce(
            source,
            range(source.n_batches),
            lambda b: _ClassTotals.of(b.y, b.sample_weight, b.X if liblinear else None),
            desc="classes",
        )
        labels = totals.labels
        kind = type_of_target(labels)
        if kind.startswith("continuous"):
            raise ValueError(f"Unknown label type: {kind}")
        if liblinear:
            if len(labels) > 2:
                raise ValueError(_LIBLINEAR_MULTICLASS)
            if totals.largest > 1e30:
                raise ValueError(
                    "Using the 'liblinear' solver while X contains a maximum "
                    "value > 1e30 results in a frozen fit. Please choose another "
                    "solver or rescale the input X."
                )
        if len(labels) < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {labels[0]!r}"
            )
        if liblinear and self.dual and penalty == "l1":
            raise ValueError(
                "Unsupported set of arguments: The combination of penalty='l1' "
                "and loss='logistic_regression' are not supported when "
                "dual=True, Parameters: penalty='l1', loss='logistic_regression', "
                "dual=True"
            )
        self.classes_ = labels
        self._class_weight = None
        if self.class_weight is not None:
            # With each label once, weighted by its total, compute_class_weight
            # counts what it would count over all the rows.
            self._class_weight = compute_class_weight(
                self.class_weight,
                classes=labels,
                y=labels,
                sample_weight=totals.weights,
            )
        # liblinear penalizes the intercept's coefficient: the shift would mix
        # it with the others inside the L1 term, so its rows stay unshifted.
        if self.fit_intercept and not liblinear:
            head = source.take(np.arange(min(source.n_samples, 64)))
            self._shift = np.asarray(head.mean(axis=0), dtype=np.float64)
        else:
            self._shift = np.zeros(source.n_features)
        self._intercept_column = float(self.intercept_scaling) if liblinear else 1.0
        self._liblinear = liblinear
        # liblinear's tolerance: tol * min(n_positive, n_negative) / n_samples
        # times the norm of the (sub)gradient at zero.
        self._liblinear_tol = (
            self.tol * max(totals.counts.min(), 1) / totals.counts.sum()
        )
        self._initial_norm = None
        # liblinear's L2 solvers (its dual one has the same minimizer) follow
        # its trust-region Newton iterations, which stop where liblinear's do.
        self._trust_region = {} if liblinear and self._strengths[1] == 0 else None
        width = source.n_features + self.fit_intercept
        self._weights = np.zeros((self._n_outputs, width))
        if start is not None:
            if start.shape != self._weights.shape:
                expected = (
                    f"{(width,)} or (1, {width})"
                    if self._n_outputs == 1
                    else f"{self._weights.shape}"
                )
                raise ValueError(
                    f"Initialization coef is of shape {start.shape}, expected "
                    f"shape {expected}"
                )
            self._weights = start.astype(np.float64)
            if self.fit_intercept:
                self._weights[:, -1] += start[:, :-1] @ self._shift
        self._step = None
        self._previous = None
        hooks = _ITERATION_HOOKS.get()
        if hooks is not None:
            hooks.begin(self)

    def _checkpoint_of(self, source, *, start=None, **overrides):
        # Each fit starts afresh (see fit), so the base passes no start: a
        # warm start from other coefficients is another fit.
        if start is None:
            start = self._warm_start_coef()
        return super()._checkpoint_of(source, start=start, **overrides)

    def _summarize(self, batch):
        codes = np.searchsorted(self.classes_, np.ravel(batch.y))
        w = (
            np.ones(batch.n_samples)
            if batch.sample_weight is None
            else batch.sample_weight
        )
        if self._class_weight is not None:
            w = w * self._class_weight[codes]
        n, d = batch.X.shape
        width = d + int(self.fit_intercept)
        k = self._n_outputs
        # Chunks whose design rows stay in cache while the scores, the
        # gradient and the Hessian are taken from them: one read of the batch.
        m = max(1, min(n, _CHUNK_BYTES // (8 * width)))
        buffer = batch.workspace.get("logistic_design", m, width)
        loss = 0.0
        gradient = np.zeros((k, width))
        hessian = np.zeros((k, width, k, width))
        for start in range(0, n, m):
            stop = min(n, start + m)
            Z = buffer[: stop - start]
            subtract_shift(batch.X[start:stop], self._shift, Z, self._intercept_column)
            loss += self._add_derivatives(
                Z, codes[start:stop], w[start:stop], gradient, hessian
            )
        hessian = hessian.reshape(k * width, k * width)
        return _NewtonStats(n, float(w.sum()), loss, gradient, hessian)

    def _add_derivatives(self, Z, codes, w, gradient, hessian):
        """Add the gradient and Hessian of the loss on the rows ``Z`` (shifted,
        with the intercept column) to ``gradient`` and ``hessian``; their loss.

        Overwrites ``Z``.
        """
        scores = Z @ self._weights.T
        if self._n_outputs == 1:
            loss = logistic_rows(Z, scores[:, 0], codes == 1, w, gradient[0])
            hessian[0, :, 0, :] += Z.T @ Z
            return loss
        k = self._n_outputs
        log_norm = logsumexp(scores, axis=1)
        loss = w @ (log_norm - scores[np.arange(Z.shape[0]), codes])
        P = softmax(scores, axis=1)
        onehot = np.eye(k)[codes]
        gradient += ((P - onehot) * w[:, None]).T @ Z
        for a in range(k):
            for b in range(a, k):
                h = w * P[:, a] * ((a == b) - P[:, b])
                block = (Z * h[:, None]).T @ Z
                hessian[a, :, b, :] += block
                if b != a:
                    hessian[b, :, a, :] += block.T
        return float(loss)

    @available_if(lambda self: False)
    def partial_fit(self, X, y=None):  # pragma: no cover - hidden
        """Not offered: Newton steps need the whole data (as scikit-learn)."""

    def _penalized_entries(self):
        """Which entries of the flattened weights the penalty reaches."""
        mask = np.ones(self._weights.shape, dtype=bool)
        if self.fit_intercept and not self._liblinear:
            mask[:, -1] = False
        return mask.ravel()

    def _free_columns(self):
        """Columns no penalty reaches: the softmax does not change when one
        number is added to such a column of every class."""
        free = ~self._penalized_entries()[: self._weights.shape[1]]
        if self._strengths == (0.0, 0.0):
            free[:] = True
        return free

    def _strengths_per_weight(self, weight):
        if not weight > 0:
            raise ValueError("Sample weights must contain at least one non-zero number")
        l2, l1 = self._strengths
        return l2 / weight, l1 / weight

    def _objective(self, stats):
        loss = self._penalized(stats)[0]
        l1 = self._strengths_per_weight(stats.weight)[1]
        penalized = self._weights.ravel()[self._penalized_entries()]
        return -(loss + l1 * np.abs(penalized).sum())

    def _penalized(self, stats):
        """Smooth part of the objective (loss and L2 term), its gradient and
        its Hessian, per unit weight."""
        n = stats.weight
        lam = self._strengths_per_weight(n)[0]
        W = self._weights
        penalized = W[:, :-1] if self.fit_intercept and not self._liblinear else W
        loss = stats.loss / n + 0.5 * lam * np.sum(penalized**2)
        gradient = stats.gradient / n
        gradient[:, : penalized.shape[1]] += lam * penalized
        hessian = stats.hessian / n
        width = W.shape[1]
        for k in range(W.shape[0]):
            idx = k * width + np.arange(penalized.shape[1])
            hessian[idx, idx] += lam
        return loss, gradient.ravel(), hessian

    def _pin_free_shifts(self, hessian):
        """The Hessian with curvature along the shifts of the free columns.

        The softmax does not change when one number is added to a free
        column of every class, so the Hessian is singular along that shift
        and the gradient has no part along it: curvature there selects the
        step without a shift (the least-squares one), which a Cholesky
        factorization can then take.
        """
        k = self._n_outputs
        free = np.flatnonzero(self._free_columns())
        if k == 1 or not len(free):
            return hessian
        width = self._weights.shape[1]
        scale = np.mean(np.diag(hessian)) / k
        for j in free:
            idx = np.arange(k) * width + j
            hessian[np.ix_(idx, idx)] += scale
        return hessian

    def _from_summaries(self, stats):
        before = self._weights
        self._newton_update(stats)
        # sag and saga's rule: the largest change of a weight relative to the
        # largest weight (a step of the Newton iterations, not a halving).
        largest = np.max(np.abs(self._weights))
        self._relative_change = (
            np.max(np.abs(self._weights - before)) / largest
            if np.isfinite(self._decrement) and largest > 0
            else np.inf
        )
        hooks = _ITERATION_HOOKS.get()
        if hooks is not None:
            hooks.end(self)
            hooks.begin(self)

    def _newton_update(self, stats):
        if self._trust_region is not None:
            self._trust_region_update(stats)
            return
        loss, gradient, hessian = self._penalized(stats)
        l1 = self._strengths_per_weight(stats.weight)[1]
        penalized = self._penalized_entries()
        w = self._weights.ravel()
        objective = loss + l1 * np.abs(w[penalized]).sum()
        subgradient = _smallest_subgradient(gradient, w, l1, penalized)
        self._gradient_max = float(np.max(subgradient))
        if self._liblinear:
            # liblinear's stopping rule, relative to the first point (zero):
            # the 2-norm of the gradient, the largest entry with an L1 term.
            norm = float(np.max(subgradient) if l1 > 0 else linalg.norm(subgradient))
            if self._initial_norm is None:
                self._initial_norm = norm
            self._at_tolerance = norm <= self._liblinear_tol * self._initial_norm
        else:
            self._at_tolerance = self._gradient_max <= self.tol
        if self._previous is not None and self._step is not None:
            previous_objective, previous_slope = self._previous
            # Armijo on the step just taken; else halve it and look again,
            # unless the point reached already meets the tolerance.
            if (
                objective > previous_objective + 1e-4 * self._step_size * previous_slope
                and self._step_size > 1e-8
                and not self._at_tolerance
            ):
                self._step_size /= 2
                self._weights = self._origin + self._step_size * self._step
                self._decrement = np.inf
                return
        hessian = self._pin_free_shifts(hessian)
        if l1 > 0:
            target = _lasso_quadratic(hessian, gradient, w, l1, penalized)
            step = target - w
            slope = float(
                gradient @ step
                + l1 * (np.abs(target[penalized]).sum() - np.abs(w[penalized]).sum())
            )
        else:
            step = _newton_step(hessian, gradient)
            slope = float(gradient @ step)
        self._decrement = -slope
        self._origin = self._weights.copy()
        self._step = step.reshape(self._weights.shape)
        self._step_size = 1.0
        self._previous = (objective, slope)
        self._weights = self._origin + self._step

    def _trust_region_update(self, stats):
        """One pass of liblinear's trust-region Newton method (L2 penalty).

        liblinear's ``0.5 ||w||^2 + C sum_i w_i loss_i``, its trial points,
        radius updates and stopping rule, so that the fit stops where
        liblinear's does. Each pass evaluates the trial point set by the
        previous one (the first, zero): accepted, it becomes the point; the
        conjugate gradients on the Hessian just summed set the next trial.
        """
        loss, gradient, hessian = self._penalized(stats)
        # The objective per unit weight, in liblinear's scale.
        factor = stats.weight / self._strengths[0]
        f, g, H = loss * factor, gradient * factor, hessian * factor
        w = self._weights.ravel().copy()
        self._gradient_max = float(np.max(np.abs(gradient)))
        self._decrement = 0.0
        state = self._trust_region
        stop = False
        if not state:
            norm = float(linalg.norm(g))
            state.update(w=w, f=f, g=g, H=H, radius=norm, initial=norm, accepted=0)
            stop = norm == 0.0
        else:
            previous = state["f"]
            actual = previous - f
            predicted, slope, length = (
                state["predicted"],
                state["slope"],
                state["length"],
            )
            radius = state["radius"]
            if state["accepted"] == 0:
                radius = min(radius, length)
            curvature = f - previous - slope
            alpha = 4.0 if curvature <= 0 else max(0.25, -0.5 * (slope / curvature))
            if actual < 1e-4 * predicted:
                radius = min(max(alpha, 0.25) * length, 0.5 * radius)
            elif actual < 0.25 * predicted:
                radius = max(0.25 * radius, min(alpha * length, 0.5 * radius))
            elif actual < 0.75 * predicted:
                radius = max(0.25 * radius, min(alpha * length, 4.0 * radius))
            else:
                radius = max(radius, min(alpha * length, 4.0 * radius))
            state["radius"] = radius
            if actual > 1e-4 * predicted:
                state.update(w=w, f=f, g=g, H=H, accepted=state["accepted"] + 1)
                stop = linalg.norm(g) <= self._liblinear_tol * state["initial"]
            current = abs(state["f"])
            stop = (
                stop
                or state["f"] < -1.0e32
                or (abs(actual) <= 0 and predicted <= 0)
                or (
                    abs(actual) <= 1e-12 * current and abs(predicted) <= 1e-12 * current
                )
            )
        self._at_tolerance = bool(stop)
        if stop:
            self._weights = state["w"].reshape(self._weights.shape)
            return
        step, residual = _trust_region_step(state["H"], state["g"], state["radius"])
        slope = float(state["g"] @ step)
        state.update(
            slope=slope,
            predicted=-0.5 * (slope - float(step @ residual)),
            length=float(linalg.norm(step)),
        )
        self._weights = (state["w"] + step).reshape(self._weights.shape)

    def _has_converged(self, change):
        if self._liblinear:
            return self._at_tolerance
        if self.solver in ("sag", "saga"):
            return self._relative_change <= self.tol
        return self._at_tolerance or 0.5 * self._decrement <= self.tol

    def _get_parameters(self):
        return self._weights.copy()

    def _coef_intercept(self, W):
        """``coef_`` and ``intercept_`` of the weights ``W`` (of shifted rows)."""
        if self._liblinear:
            # The intercept is liblinear's: intercept_scaling times the
            # coefficient of its constant column (0.0 without one).
            if self.fit_intercept:
                return W[:, :-1].copy(), self._intercept_column * W[:, -1]
            return W.copy(), 0.0
        if self.fit_intercept:
            coef, intercept = W[:, :-1].copy(), W[:, -1] - W[:, :-1] @ self._shift
        else:
            coef, intercept = W.copy(), np.zeros(W.shape[0])
        if self._n_outputs > 1:
            # The model is the same for every shift of a free column;
            # scikit-learn's solvers, started from zero, keep it centered.
            free = self._free_columns()[: coef.shape[1]]
            coef[:, free] -= coef[:, free].mean(axis=0)
            if self.fit_intercept:
                intercept = intercept - intercept.mean()
        return coef.astype(self._fit_dtype), intercept.astype(self._fit_dtype)

    @property
    def _reconstruction_attributes(self):
        """The fitted attributes at the current weights (for callbacks)."""
        coef, intercept = self._coef_intercept(self._weights)
        return {"coef_": coef, "intercept_": intercept, "_is_fitted": True}

    def _set_parameters(self, params):
        self._weights = params.copy()
        self.coef_, self.intercept_ = self._coef_intercept(params)

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
            Row weights (multiplied by the weights of ``class_weight``).
        batch_size : int or "auto", default=None
            Rows per batch for this call.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        # As scikit-learn's: the fit is one task of the callbacks, and with
        # lbfgs each iteration a subtask, plus one never run.
        context = self._init_callback_context(max_subtasks=max(self.max_iter, 1) + 1)
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        context.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
        hooks = None
        if self.solver == "lbfgs" and hasattr(self, "_skl_callbacks"):
            hooks = _IterationHooks(context, X, y, metadata)
        token = _ITERATION_HOOKS.set(hooks)
        try:
            with self._transaction():
                # Every fit finds the labels and class weights afresh: a warm
                # start only changes where the iterations begin (_initialize).
                self.__dict__.pop("converged_", None)
                self._fit_iterations(X, y, sample_weight, batch_size, None)
                if self._trust_region is not None and self.converged_:
                    # liblinear counts its accepted steps, not the passes
                    # (the first at zero, and the trials it rejected).
                    self.n_iter_ = self._trust_region.get("accepted", 0)
                self.n_iter_ = np.array([self.n_iter_], dtype=np.int32)
                if hooks is not None:
                    hooks.close(self)
        finally:
            _ITERATION_HOOKS.reset(token)
            # A resumed checkpoint restores the attributes of its own fit.
            self._callback_fit_ctx = context
        context.call_on_fit_task_end(
            estimator=self,
            X=X,
            y=y,
            metadata=metadata,
            reconstruction_attributes={},
        )
        return self

    def _scores(self, X):
        return safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_

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
        out = self._map_rows(X, lambda b: self._scores(b.X))
        return out[:, 0] if out.shape[1] == 1 else out

    def _predict_batch(self, X):
        scores = self._scores(X)
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
