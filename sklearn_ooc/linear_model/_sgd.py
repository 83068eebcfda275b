"""Minibatch SGD over data read in blocks of a memory buffer (MLML's ssgd)."""

from __future__ import annotations

import os
import warnings
from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target

from .._kernels import linear_outputs, sgd_block
from .._kernels._sgd import (
    CONSTANT,
    DAMPED,
    HINGE,
    HUBER,
    INVSCALING,
    LOG_LOSS,
    MULTINOMIAL,
    SQUARED_ERROR,
)
from .._out_of_core import register
from .._stats import LabelSet
from ..base import SequentialMixin, StreamingClassifierMixin, StreamingRegressorMixin

_LOSSES = {
    "squared_error": SQUARED_ERROR,
    "huber": HUBER,
    "log_loss": LOG_LOSS,
    "hinge": HINGE,
}
_SCHEDULES = {"constant": CONSTANT, "invscaling": INVSCALING, "damped": DAMPED}


class _SGDState:
    """Weights, velocities and counters of a run; copied into attributes at the end."""

    def __init__(self, coef, intercept, t=1.0):
        self.coef = np.array(coef, dtype=np.float64, order="C")
        self.intercept = np.array(intercept, dtype=np.float64)
        self.coef_velocity = np.zeros_like(self.coef)
        self.intercept_velocity = np.zeros_like(self.intercept)
        self.t = float(t)


class _BaseStreamingSGD(SequentialMixin, BaseEstimator):
    """The epoch loop shared by the SGD regressor and classifier."""

    _requires_y = True

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "learning_rate": [StrOptions(set(_SCHEDULES))],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, None, None, closed="neither")],
        "damp": [Interval(Real, 0, 1, closed="right")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, None, None, closed="neither"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "buffer_mb": [Interval(Real, 0, None, closed="neither")],
        "shuffle": [StrOptions({"block", "disk"}), "boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "checkpoint": [str, os.PathLike, None],
    }

    # -- hooks of the two estimators ------------------------------------------------

    def _targets(self, batch):
        raise NotImplementedError

    def _new_state(self, n_features):
        raise NotImplementedError

    def _validation_score(self, state, source, holdout):
        raise NotImplementedError

    # -- the loop ---------------------------------------------------------------------

    def _loss_code(self):
        return _LOSSES[self.loss]

    def _epoch(self, source, order, state, epoch, rng, holdout):
        """One pass over the blocks ``order``; returns (loss sum, rows trained on)."""
        loss = self._loss_code()
        schedule = _SCHEDULES[self.learning_rate]
        totals = [0.0, 0]

        def step(batch):
            rows = np.arange(batch.n_samples)
            if holdout is not None:
                rows = rows[~holdout(batch)]
            rows = self._row_order(rows, rng)
            targets = self._targets(batch)
            state.t, block_loss = sgd_block(
                batch.X,
                targets,
                rows,
                state.coef,
                state.intercept,
                state.coef_velocity,
                state.intercept_velocity,
                loss,
                self.alpha,
                getattr(self, "epsilon", 0.1),
                schedule,
                self.eta0,
                self.power_t,
                self.damp,
                epoch,
                state.t,
                self.batch_size,
                self.momentum,
                self.fit_intercept,
            )
            totals[0] += block_loss
            totals[1] += rows.shape[0]

        self._visit(source, order, step, desc=f"epoch {epoch + 1}")
        if not (np.isfinite(state.coef).all() and np.isfinite(state.intercept).all()):
            # scikit-learn's own error; the fit's transaction keeps the
            # estimator as it was.
            raise ValueError(
                f"Floating-point under-/overflow occurred at epoch #{epoch + 1}. "
                "Scaling input data with StandardScaler or MinMaxScaler might help."
            )
        return totals[0], totals[1]

    def _holdout(self, seed):
        """Rows held out for early stopping: a fixed random fraction of each block."""
        if not self.early_stopping:
            return None
        fraction = self.validation_fraction

        def held_out(batch):
            rng = np.random.default_rng([seed, batch.index])
            return rng.random(batch.n_samples) < fraction

        return held_out

    def _run(self, source, state, *, max_iter, seed, stop_early, checkpoint=None):
        """Epochs over ``source``; returns the epochs run.

        With a ``checkpoint``, the loop's state is saved after every epoch
        and, if the checkpoint holds one, the loop carries on from it.
        """
        rng = np.random.default_rng(seed)
        holdout = self._holdout(seed) if stop_early else None
        engine = self._engine()
        best, no_improvement, n_iter, stopped = np.inf, 0, 0, False
        saved = checkpoint.load() if checkpoint is not None else None
        if saved is not None:
            for name in ("coef", "intercept", "coef_velocity", "intercept_velocity"):
                setattr(state, name, saved[name])
            state.t = saved["t"]
            rng.bit_generator.state = saved["rng"]
            best, no_improvement, n_iter = (
                saved["best"],
                saved["no_improvement"],
                saved["n_iter"],
            )
            stopped = saved["stopped"]
            engine.log(f"Resuming from {checkpoint.path} after epoch {n_iter}")
        for epoch in range(n_iter, max_iter):
            if stopped:
                break
            order = self._block_order(source, rng)
            loss_sum, n_rows = self._epoch(source, order, state, epoch, rng, holdout)
            n_iter = epoch + 1
            if holdout is not None:
                criterion = -self._validation_score(state, source, holdout)
            else:
                criterion = loss_sum / max(1, n_rows)
            engine.log(
                f"-- Epoch {n_iter}: {'validation score' if holdout else 'avg loss'} "
                f"{abs(criterion):.6g}, {n_rows:,} rows, t {state.t:.0f}"
            )
            if stop_early and self.tol is not None:
                if criterion > best - self.tol:
                    no_improvement += 1
                else:
                    no_improvement = 0
                best = min(best, criterion)
                stopped = no_improvement >= self.n_iter_no_change
            if checkpoint is not None:
                checkpoint.save(
                    {
                        "seed": seed,
                        "coef": state.coef,
                        "intercept": state.intercept,
                        "coef_velocity": state.coef_velocity,
                        "intercept_velocity": state.intercept_velocity,
                        "t": state.t,
                        "rng": rng.bit_generator.state,
                        "best": best,
                        "no_improvement": no_improvement,
                        "n_iter": n_iter,
                        "stopped": stopped,
                    }
                )
            if stopped:
                break
        else:
            if stop_early and self.tol is not None and max_iter > 1 and not stopped:
                warnings.warn(
                    "Maximum number of iteration reached before convergence. "
                    "Consider increasing max_iter to improve the fit.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        return n_iter

    def _fit(self, X, y, reset, classes=None, whole=True):
        """``whole``: a fit of ``max_iter`` epochs (with the disk shuffle,
        early stopping and checkpoints); else one epoch, ``partial_fit``'s.
        ``reset`` starts from zero weights."""
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        checkpoint = None
        if whole and self.checkpoint is not None:
            # The fingerprint is of the data as given, before any shuffle; a
            # resumed fit shuffles with the seed of the first.
            checkpoint = self._checkpoint_of(self._source(X, y, reset=True))
            saved = checkpoint.load()
            seed = seed if saved is None else saved["seed"]
        with self._shuffled(X, y, seed) if whole else nullcontext((X, y)) as (X, y):
            source = self._source(X, y, reset=reset, fitting=True)
            if checkpoint is not None:
                checkpoint.watch(source)  # the rows the epochs read
            self._prepare_targets(source, reset, classes)
            if reset:
                state = self._new_state(source.n_features)
            else:
                state = _SGDState(self._coef, self._intercept, self.t_)
                state.coef_velocity = self._coef_velocity.copy()
                state.intercept_velocity = self._intercept_velocity.copy()
            max_iter, stop_early = (self.max_iter, True) if whole else (1, False)
            n_iter = self._run(
                source,
                state,
                max_iter=max_iter,
                seed=seed,
                stop_early=stop_early,
                checkpoint=checkpoint,
            )
            if checkpoint is not None:
                checkpoint.close()  # checks the data while a shuffled copy exists
        self._set_state(state)
        self.n_iter_ = n_iter if reset else getattr(self, "n_iter_", 0) + n_iter
        self._is_fitted = True
        return self

    def _prepare_targets(self, source, reset, classes):
        pass

    def _set_state(self, state):
        self._coef = state.coef
        self._intercept = state.intercept
        self._coef_velocity = state.coef_velocity
        self._intercept_velocity = state.intercept_velocity
        self.t_ = state.t
        self._publish()

    def _outputs(self, X):
        out = np.empty((X.shape[0], self._coef.shape[0]))
        linear_outputs(X, self._coef, self._intercept, out)
        return out

    def fit(self, X, y, *, classes=None):
        """Fit by minibatch SGD, epoch after epoch, over blocks of ``buffer_mb``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or array store of shape \
                (n_samples, n_features)
            Training rows; a path names a ``.npy`` file, read one block at a
            time.
        y : same kinds as X, of shape (n_samples,)
            Targets.
        classes : array-like, default=None
            Classifier only: all the labels, which spares a pass over ``y``
            to find them.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        with self._transaction():
            for attr in ("_coef", "classes_"):
                self.__dict__.pop(attr, None)
            return self._fit(X, y, reset=True, classes=classes)

    def _partial_fit(self, X, y, classes=None):
        first = not self.__sklearn_is_fitted__()
        if first:
            self._validate_params()
        with self._transaction():
            return self._fit(X, y, reset=first, classes=classes, whole=False)


def _from_sgd(params):
    """SGDClassifier's or SGDRegressor's parameters as ours (``out_of_core``).

    ``shuffle=True`` mixes the rows between epochs: ours does so by blocks
    of ``buffer_mb`` (a shuffle of the whole data on disk is
    ``shuffle='disk'``).
    """
    if params.get("shuffle") is True:
        params["shuffle"] = "block"
    return params


@register(SGDRegressor, convert=_from_sgd)
class StreamingSGDRegressor(StreamingRegressorMixin, RegressorMixin, _BaseStreamingSGD):
    """Linear regression by minibatch SGD over data read in memory-sized blocks.

    The data are read in blocks of ``buffer_mb`` megabytes (MLML's
    ``--buffer``); each epoch visits the blocks in a new random order and the
    rows of each block in a random order, taking gradient steps of
    ``batch_size`` rows with momentum. With ``shuffle='disk'`` the file is
    first shuffled on disk (:func:`~sklearn_ooc.io.shuffle_on_disk`) into a
    temporary file, read in order afterwards, so that every step sees rows
    from the whole data.

    Parameters
    ----------
    loss : {'squared_error', 'huber'}, default='squared_error'
        ``'squared_error'`` with ``alpha`` is ridge regression (MLML's).
    alpha : float, default=1e-4
        L2 penalty: the objective is the mean loss plus
        ``alpha / 2 * ||coef||^2``.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalized) intercept.
    learning_rate : {'constant', 'invscaling', 'damped'}, default='invscaling'
        Step size: ``eta0``; ``eta0 / t ** power_t`` with ``t`` the rows seen;
        or ``eta0 * damp ** epoch`` (MLML's).
    eta0 : float, default=0.01
        Initial step size (the momentum multiplies its effect by about
        ``1 / (1 - momentum)``).
    power_t : float, default=0.25
        Exponent of ``'invscaling'``.
    damp : float, default=0.99
        Factor per epoch of ``'damped'``.
    momentum : float, default=0.9
        Momentum of the steps.
    batch_size : int, default=32
        Rows per gradient step (not per block read: see ``buffer_mb``).
    max_iter : int, default=1000
        Epochs at most.
    tol : float or None, default=1e-3
        Stop when the criterion (average training loss, or validation R² with
        ``early_stopping``) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs; ``None`` runs ``max_iter`` epochs.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows of every block (the same
        rows each epoch) and stop on their R²; costs one more pass per epoch.
    validation_fraction : float, default=0.1
        Fraction held out with ``early_stopping``.
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping.
    epsilon : float, default=0.1
        Threshold of the Huber loss.
    buffer_mb : float, default=64
        Megabytes of rows read per block.
    shuffle : {'block', 'disk'} or False, default='block'
        How rows are mixed: random block order and random rows within a block;
        a shuffle on disk first, then blocks in file order; or no shuffling.
    random_state : int, RandomState instance or None, default=None
        Seed of every shuffle and of the held-out rows.
    verbose : int, default=0
        1 prints one line per epoch.
    checkpoint : str or os.PathLike, default=None
        A file that receives the state of the fit, atomically, after every
        epoch. A fit that finds a checkpoint of the same data and parameters
        resumes from it; one of other data or parameters is refused. See
        :ref:`checkpoints`.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Weights.
    intercept_ : ndarray of shape (1,)
        Intercept.
    n_iter_ : int
        Epochs run.
    t_ : float
        Rows seen plus one, as in scikit-learn.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    StreamingRidge : The exact solution of ``loss='squared_error'``.
    sklearn.linear_model.SGDRegressor : Plain SGD in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingSGDRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 1.0
    >>> sgd = StreamingSGDRegressor(alpha=0.0, random_state=0, buffer_mb=0.05)
    >>> sgd.fit(X, y).coef_.round(2)
    array([ 1. , -2. ,  0.5])
    """

    _parameter_constraints: dict = {
        **_BaseStreamingSGD._parameter_constraints,
        "loss": [StrOptions({"squared_error", "huber"})],
        "epsilon": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        loss="squared_error",
        *,
        alpha=1e-4,
        fit_intercept=True,
        learning_rate="invscaling",
        eta0=0.01,
        power_t=0.25,
        damp=0.99,
        momentum=0.9,
        batch_size=32,
        max_iter=1000,
        tol=1e-3,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        epsilon=0.1,
        buffer_mb=64,
        shuffle="block",
        random_state=None,
        verbose=0,
        checkpoint=None,
    ):
        self.loss = loss
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.damp = damp
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.epsilon = epsilon
        self.buffer_mb = buffer_mb
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint = checkpoint

    def _targets(self, batch):
        return np.ascontiguousarray(batch.y, dtype=np.float64).reshape(-1, 1)

    def _new_state(self, n_features):
        return _SGDState(np.zeros((1, n_features)), np.zeros(1))

    def _publish(self):
        self.coef_ = self._coef[0].copy()
        self.intercept_ = self._intercept.copy()

    def _predict_batch(self, X):
        return self._outputs(X)[:, 0]

    def _validation_score(self, state, source, holdout):
        def part(batch):
            held = holdout(batch)
            y = np.ravel(batch.y)[held]
            out = np.empty((held.sum(), 1))
            linear_outputs(batch.X[held], state.coef, state.intercept, out)
            return np.array(
                [((y - out[:, 0]) ** 2).sum(), y.sum(), (y**2).sum(), y.size]
            )

        residual, y_sum, y_squares, count = self._engine().reduce(
            source, range(source.n_batches), part, desc="score"
        )
        variance = y_squares - y_sum**2 / max(count, 1)
        return 1.0 - residual / variance if variance > 0 else 0.0

    def fit(self, X, y):
        """Fit by minibatch SGD, epoch after epoch, over blocks of ``buffer_mb``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or array store of shape \
                (n_samples, n_features)
            Training rows; a path names a ``.npy`` file, read one block at a
            time.
        y : same kinds as X, of shape (n_samples,)
            Targets.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y)

    def partial_fit(self, X, y):
        """One epoch over ``X``, from the current weights (zero at first).

        The blocks and their rows are visited in random order if
        ``shuffle``; ``shuffle='disk'`` shuffles only in ``fit`` (the rows
        given to each call are read as blocks).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.
        y : array-like of shape (n_samples,)
            Targets.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._partial_fit(X, y)


@register(SGDClassifier, convert=_from_sgd)
class StreamingSGDClassifier(
    StreamingClassifierMixin, ClassifierMixin, _BaseStreamingSGD
):
    """Linear classification by minibatch SGD over memory-sized blocks.

    Reads data as :class:`StreamingSGDRegressor` does. Two classes give one
    binary problem; more give one binary problem per class (one-vs-rest) or
    one softmax model (``multi_class='multinomial'``, log-loss).

    Parameters
    ----------
    loss : {'hinge', 'log_loss'}, default='hinge'
        A linear SVM, or logistic regression (which has ``predict_proba``).
    multi_class : {'ovr', 'multinomial'}, default='ovr'
        One-vs-rest, or a multinomial (softmax) model with log-loss.
    alpha : float, default=1e-4
        L2 penalty: the objective is the mean loss plus
        ``alpha / 2 * ||coef||^2``.
    fit_intercept : bool, default=True
        Whether to fit (unpenalized) intercepts.
    learning_rate : {'constant', 'invscaling', 'damped'}, default='invscaling'
        Step size schedule (see :class:`StreamingSGDRegressor`).
    eta0 : float, default=0.01
        Initial step size.
    power_t : float, default=0.25
        Exponent of ``'invscaling'``.
    damp : float, default=0.99
        Factor per epoch of ``'damped'``.
    momentum : float, default=0.9
        Momentum of the steps.
    batch_size : int, default=32
        Rows per gradient step.
    max_iter : int, default=1000
        Epochs at most.
    tol : float or None, default=1e-3
        Stopping threshold (average training loss, or validation accuracy
        with ``early_stopping``).
    early_stopping : bool, default=False
        Stop on the accuracy of held-out rows (one more pass per epoch).
    validation_fraction : float, default=0.1
        Fraction held out with ``early_stopping``.
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping.
    buffer_mb : float, default=64
        Megabytes of rows read per block.
    shuffle : {'block', 'disk'} or False, default='block'
        How rows are mixed (see :class:`StreamingSGDRegressor`).
    random_state : int, RandomState instance or None, default=None
        Seed of every shuffle and of the held-out rows.
    verbose : int, default=0
        1 prints one line per epoch.
    checkpoint : str or os.PathLike, default=None
        A file that receives the state of the fit, atomically, after every
        epoch. A fit that finds a checkpoint of the same data and parameters
        resumes from it; one of other data or parameters is refused. See
        :ref:`checkpoints`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    n_iter_ : int
        Epochs run.
    t_ : float
        Rows seen plus one.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.SGDClassifier : Plain SGD in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingSGDClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-2, 1, (200, 2)), rng.normal(2, 1, (200, 2))])
    >>> y = np.repeat(["a", "b"], 200)
    >>> clf = StreamingSGDClassifier(random_state=0).fit(X, y)
    >>> clf.predict([[-3.0, -2.0], [2.0, 3.0]]).tolist()
    ['a', 'b']
    """

    _y_numeric = False

    _parameter_constraints: dict = {
        **_BaseStreamingSGD._parameter_constraints,
        "loss": [StrOptions({"hinge", "log_loss"})],
        "multi_class": [StrOptions({"ovr", "multinomial"})],
    }

    def __init__(
        self,
        loss="hinge",
        *,
        multi_class="ovr",
        alpha=1e-4,
        fit_intercept=True,
        learning_rate="invscaling",
        eta0=0.01,
        power_t=0.25,
        damp=0.99,
        momentum=0.9,
        batch_size=32,
        max_iter=1000,
        tol=1e-3,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        buffer_mb=64,
        shuffle="block",
        random_state=None,
        verbose=0,
        checkpoint=None,
    ):
        self.loss = loss
        self.multi_class = multi_class
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.damp = damp
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.buffer_mb = buffer_mb
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint = checkpoint

    def _multinomial(self):
        return self.multi_class == "multinomial" and len(self.classes_) > 2

    def _loss_code(self):
        if self._multinomial():
            if self.loss != "log_loss":
                raise ValueError(
                    "multi_class='multinomial' needs loss='log_loss', got "
                    f"loss={self.loss!r}"
                )
            return MULTINOMIAL
        return _LOSSES[self.loss]

    def _prepare_targets(self, source, reset, classes):
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            if hasattr(self, "classes_") and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()} is not the same as on the first "
                    f"call, {self.classes_.tolist()}"
                )
        if not reset:
            return
        if classes is None:
            classes = (
                self._engine()
                .reduce(
                    source,
                    range(source.n_batches),
                    lambda b: LabelSet.of(b.y),
                    desc="classes",
                )
                .labels
            )
            kind = type_of_target(classes)
            if kind == "continuous" or kind.startswith("continuous"):
                raise ValueError(f"Unknown label type: {kind}")
        if len(classes) < 2:
            raise ValueError(
                "The number of classes has to be greater than one; got 1 class"
            )
        self.classes_ = classes

    def _targets(self, batch):
        y = np.ravel(batch.y)
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if np.any(unknown):
            row = int(np.argmax(unknown))
            raise ValueError(
                f"y contains the label {y[row].item()!r} at row {batch.start + row}, "
                f"not among classes_ {self.classes_.tolist()}"
            )
        n_outputs = 1 if len(self.classes_) == 2 else len(self.classes_)
        if n_outputs == 1:
            return np.where(codes == 1, 1.0, -1.0).reshape(-1, 1)
        onehot = codes[:, None] == np.arange(n_outputs)
        if self._multinomial():
            return onehot.astype(np.float64)
        return np.where(onehot, 1.0, -1.0)

    def _new_state(self, n_features):
        n_outputs = 1 if len(self.classes_) == 2 else len(self.classes_)
        return _SGDState(np.zeros((n_outputs, n_features)), np.zeros(n_outputs))

    def _publish(self):
        self.coef_ = self._coef.copy()
        self.intercept_ = self._intercept.copy()

    def _labels_of(self, scores):
        if scores.shape[1] == 1:
            return self.classes_[(scores[:, 0] > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]

    def _predict_batch(self, X):
        return self._labels_of(self._outputs(X))

    def _validation_score(self, state, source, holdout):
        def part(batch):
            held = holdout(batch)
            out = np.empty((held.sum(), state.coef.shape[0]))
            linear_outputs(batch.X[held], state.coef, state.intercept, out)
            right = self._labels_of(out) == np.ravel(batch.y)[held]
            return np.array([right.sum(), held.sum()], dtype=np.float64)

        right, count = self._engine().reduce(
            source, range(source.n_batches), part, desc="score"
        )
        return right / max(count, 1)

    def decision_function(self, X):
        """Signed distances to the separating hyperplanes, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            Scores; 1-D for two classes (positive means ``classes_[1]``).
        """
        out = self._map_rows(X, lambda b: self._outputs(b.X), desc="decision")
        return out[:, 0] if out.shape[1] == 1 else out

    @available_if(lambda self: self.loss == "log_loss")
    def predict_proba(self, X):
        """Class probabilities (``loss='log_loss'`` only), streamed.

        Two classes: the logistic function of the score. One-vs-rest: the
        per-class logistic functions, normalized to sum to one (as
        scikit-learn). Multinomial: the softmax of the scores.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities.
        """
        scores = self._map_rows(X, lambda b: self._outputs(b.X), desc="proba")
        if scores.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1 - p, p])
        if self._multinomial():
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            return scores / scores.sum(axis=1, keepdims=True)
        p = 1.0 / (1.0 + np.exp(-scores))
        total = p.sum(axis=1, keepdims=True)
        return np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total > 0)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X``; ``classes`` is required on the first call.

        From the current weights (zero at first), the blocks and their rows
        visited in random order if ``shuffle``; ``shuffle='disk'`` shuffles
        only in ``fit``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.
        y : array-like of shape (n_samples,)
            Labels.
        classes : array-like, default=None
            Every label of the problem (first call only, as in scikit-learn).

        Returns
        -------
        self : object
            The updated estimator.
        """
        if not self.__sklearn_is_fitted__() and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._partial_fit(X, y, classes=classes)
