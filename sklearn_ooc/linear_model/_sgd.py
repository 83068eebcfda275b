"""Plain SGD, scikit-learn's, over rows read in blocks of a memory buffer."""

from __future__ import annotations

import os
import warnings
from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.linear_model._base import SparseCoefMixin
from sklearn.linear_model._stochastic_gradient import (
    BaseSGDClassifier as _SklearnSGDClassifier,
)
from sklearn.linear_model._stochastic_gradient import (
    BaseSGDRegressor as _SklearnSGDRegressor,
)
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target

from .._kernels import _sgd as _k
from .._kernels import linear_outputs
from .._out_of_core import register
from .._stats import RegressionScore
from ..base import SequentialMixin, StreamingClassifierMixin, StreamingRegressorMixin

_MAX_INT = np.iinfo(np.int32).max

# loss -> (kernel code, hinge threshold, or None where epsilon applies)
_LOSSES = {
    "hinge": (_k.LOSS_HINGE, 1.0),
    "squared_hinge": (_k.LOSS_SQUARED_HINGE, 1.0),
    "perceptron": (_k.LOSS_HINGE, 0.0),
    "log_loss": (_k.LOSS_LOG, 0.0),
    "modified_huber": (_k.LOSS_MODIFIED_HUBER, 0.0),
    "squared_error": (_k.LOSS_SQUARED_ERROR, 0.0),
    "huber": (_k.LOSS_HUBER, None),
    "epsilon_insensitive": (_k.LOSS_EPSILON_INSENSITIVE, None),
    "squared_epsilon_insensitive": (_k.LOSS_SQUARED_EPSILON_INSENSITIVE, None),
}
_SCHEDULES = {
    "constant": _k.LR_CONSTANT,
    "optimal": _k.LR_OPTIMAL,
    "invscaling": _k.LR_INVSCALING,
    "adaptive": _k.LR_ADAPTIVE,
    "pa1": _k.LR_PA1,
    "pa2": _k.LR_PA2,
}
_PENALTIES = {
    None: _k.PENALTY_NONE,
    "l1": _k.PENALTY_L1,
    "l2": _k.PENALTY_L2,
    "elasticnet": _k.PENALTY_ELASTICNET,
}


class _Models:
    """The weights and counters of the binary models of one call (in float64).

    One model for a regressor or two classes; one per class (one-vs-rest)
    otherwise. The weights are ``wscale * W`` during the call, as in
    scikit-learn's ``WeightVector``; :meth:`finish` folds the scale in.
    """

    def __init__(self, coef, intercept, avg_coef, avg_intercept, t, eta0):
        self.W = np.array(coef, dtype=np.float64, order="C")
        k = self.W.shape[0]
        self.intercept = np.array(intercept, dtype=np.float64).reshape(k)
        self.averaging = avg_coef is not None
        if self.averaging:
            self.AW = np.array(avg_coef, dtype=np.float64, order="C")
            self.avg_intercept = np.array(avg_intercept, dtype=np.float64).reshape(k)
        else:
            self.AW = np.zeros_like(self.W)
            self.avg_intercept = np.zeros(k)
        self.wscale = np.ones(k)
        self.avg_a = np.zeros(k)
        self.avg_b = np.ones(k)
        self.Q = np.zeros_like(self.W)
        self.u = np.zeros(k)
        self.sq_norm = np.einsum("ij,ij->i", self.W, self.W)
        self.l1_norm = np.abs(self.W).sum(axis=1)
        self.eta = np.full(k, float(eta0))
        self.t = np.full(k, float(t))
        self.count = np.zeros(k, dtype=np.int64)
        self.sumloss = np.zeros(k)
        self.objective = np.zeros(k)
        self.active = np.ones(k, dtype=bool)
        self.n_iter = np.zeros(k, dtype=np.int64)
        self.no_improvement = np.zeros(k, dtype=np.int64)
        self.best_objective = np.full(k, np.inf)
        self.best_score = np.full(k, -np.inf)

    _ARRAYS = (
        "W", "intercept", "AW", "avg_intercept", "wscale", "avg_a", "avg_b", "Q",
        "u", "sq_norm", "l1_norm", "eta", "t", "count", "active", "n_iter",
        "no_improvement", "best_objective", "best_score",
    )  # fmt: skip

    def state(self):
        return {name: getattr(self, name).copy() for name in self._ARRAYS}

    def restore(self, state):
        for name in self._ARRAYS:
            setattr(self, name, np.array(state[name]))

    def finish(self):
        _k.reset_wscale(
            self.W, self.wscale, self.AW, self.avg_a, self.avg_b, self.averaging
        )


class _Group:
    """Models that see the rows in one order, and that order."""

    def __init__(self, models, seed, n_rows, exact):
        self.models = np.asarray(models)
        self.seed = int(seed)
        dtype = np.int32 if n_rows < 2**31 else np.int64
        self.index = np.arange(n_rows, dtype=dtype) if exact else None


class _BaseStreamingSGD(SparseCoefMixin, SequentialMixin, BaseEstimator):
    """The epoch loop shared by the SGD regressor and classifier."""

    _requires_y = True

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "shuffle": [StrOptions({"block", "disk"}), "boolean"],
        "verbose": ["verbose"],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "learning_rate": [StrOptions(set(_SCHEDULES))],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, None, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "average": [Interval(Integral, 0, None, closed="neither"), "boolean"],
        "buffer_mb": [Interval(Real, 0, None, closed="neither")],
        "checkpoint": [str, os.PathLike, None],
    }

    # -- scikit-learn's checks -------------------------------------------------------

    def _more_validate_params(self, for_partial_fit=False):
        if self.early_stopping and for_partial_fit:
            raise ValueError("early_stopping should be False with partial_fit")
        if self.learning_rate == "optimal" and self.alpha == 0:
            raise ValueError(
                "alpha must be > 0 since learning_rate is 'optimal'. alpha is used "
                "to compute the optimal learning rate."
            )
        if self.learning_rate in ("pa1", "pa2"):
            wanted = "hinge" if is_classifier(self) else "epsilon_insensitive"
            if self.loss != wanted:
                raise ValueError(
                    f"Learning rate '{self.learning_rate}' only works with loss "
                    f"'{wanted}'."
                )
        if self.penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("l1_ratio must be set when penalty is 'elasticnet'")

    def _get_loss_function(self, loss):
        """scikit-learn's loss object (the attribute ``_loss_function_``)."""
        loss_class, *args = self.loss_functions[loss]
        if loss in ("huber", "epsilon_insensitive", "squared_epsilon_insensitive"):
            args = (self.epsilon,)
        return loss_class(*args)

    def _loss_codes(self):
        code, threshold = _LOSSES[self.loss]
        return code, (self.epsilon if threshold is None else threshold)

    def _optimal_init(self):
        if self.learning_rate != "optimal":
            return 0.0
        code, param = self._loss_codes()
        typw = np.sqrt(1.0 / np.sqrt(self.alpha))
        initial_eta0 = typw / max(1.0, _k.loss_gradient(code, 1.0, -typw, param))
        return 1.0 / (initial_eta0 * self.alpha)

    # -- hooks of the two estimators -------------------------------------------------

    def _targets(self, y, n_models):
        raise NotImplementedError

    def _score_part(self, y, outputs, w, models):
        raise NotImplementedError

    def _score_value(self, total):
        raise NotImplementedError

    # -- the validation split (scikit-learn's) ---------------------------------------

    def _make_validation_split(self, source):
        """scikit-learn's held-out rows: a mask of ``n_samples`` booleans.

        One pass over the data collects ``y`` and the weights; the split is
        stratified by class for a classifier, as scikit-learn's.
        """
        ys, ws = [], []
        for batch in source.iter_batches(range(source.n_batches)):
            ys.append(np.ravel(batch.y))
            w = batch.sample_weight
            ws.append(np.ones(batch.n_samples) if w is None else w)
        y, sample_weight = np.concatenate(ys), np.concatenate(ws)
        n_samples = y.shape[0]
        splitter = StratifiedShuffleSplit if is_classifier(self) else ShuffleSplit
        cv = splitter(
            test_size=self.validation_fraction, random_state=self.random_state
        )
        idx_train, idx_val = next(cv.split(np.zeros((n_samples, 1)), y))
        if not np.any(sample_weight[idx_val] > 0):
            raise ValueError(
                "The sample weights for validation set are all zero, consider using a"
                " different random state."
            )
        if idx_train.shape[0] == 0 or idx_val.shape[0] == 0:
            raise ValueError(
                f"Splitting {n_samples} samples into a train set and a validation set "
                f"with validation_fraction={self.validation_fraction!r} led to an "
                f"empty set ({idx_train.shape[0]} and {idx_val.shape[0]} samples). "
                "Please either change validation_fraction, increase number of "
                "samples, or disable early_stopping."
            )
        mask = np.zeros(n_samples, dtype=bool)
        mask[idx_val] = True
        return mask

    # -- the loop --------------------------------------------------------------------

    def _chunks(self, source, group, rng, mask, cache):
        """``(X, y, sample_weight, rows)`` of the next epoch, in its order.

        Data of a single block is read once for all the epochs.
        """
        if cache is not None:
            batch = cache["batch"]
            w = batch.sample_weight
            w = np.ones(batch.n_samples) if w is None else w
            if group.index is not None:
                _k.shuffle_index(group.index, group.seed)
                rows = group.index
            else:
                rows = np.arange(batch.n_samples)
            if mask is not None:
                rows = rows[~mask[rows]]
            if self.shuffle == "block":
                rows = rows[rng.permutation(rows.shape[0])]
            yield batch.X, batch.y, w, rows
            return
        if group.index is not None:
            _k.shuffle_index(group.index, group.seed)
            step = source.batch_size
            for start in range(0, group.index.shape[0], step):
                rows = group.index[start : start + step]
                if mask is not None:
                    rows = rows[~mask[rows]]
                if rows.shape[0] == 0:
                    continue
                X = source.take(rows)
                y = _take(source, rows)
                w = (
                    np.ones(rows.shape[0])
                    if source.sample_weight is None
                    else source.weights_of(rows)
                )
                yield X, y, w, np.arange(rows.shape[0])
            return
        order = (
            rng.permutation(source.n_batches)
            if self.shuffle == "block"
            else np.arange(source.n_batches)
        )
        for batch in source.iter_batches(order):
            rows = np.arange(batch.n_samples)
            if mask is not None:
                rows = rows[~mask[batch.start : batch.stop]]
            if self.shuffle == "block":
                rows = rows[rng.permutation(rows.shape[0])]
            w = batch.sample_weight
            w = np.ones(batch.n_samples) if w is None else w
            yield batch.X, batch.y, w, rows

    def _epoch(self, source, run, group, epoch, rng, mask, settings):
        """One pass over the rows for the models of ``group``."""
        active = np.zeros_like(run.active)
        active[group.models] = run.active[group.models]
        run.sumloss[group.models] = 0.0
        run.objective[group.models] = 0.0
        for X, y, w, rows in self._chunks(source, group, rng, mask, settings["cache"]):
            Y = self._targets(y, run.W.shape[0])
            _k.sgd_rows(
                X,
                Y,
                np.ascontiguousarray(w, dtype=np.float64),
                rows,
                active,
                run.W,
                run.wscale,
                run.intercept,
                run.AW,
                run.avg_a,
                run.avg_b,
                run.avg_intercept,
                run.Q,
                run.u,
                run.sq_norm,
                run.l1_norm,
                run.eta,
                run.t,
                run.sumloss,
                run.objective,
                run.count,
                settings["pos"],
                settings["neg"],
                *settings["args"],
                1e-6 if X.dtype == np.float32 else 1e-9,
                settings["sparse"],
            )
        return active

    def _validation_scores(self, source, run, mask, models):
        """Validation score of each model (scikit-learn scores the weights
        before their scale is folded in, and so do we)."""
        totals = None
        for batch in source.iter_batches(range(source.n_batches)):
            held = mask[batch.start : batch.stop]
            if not held.any():
                continue
            X = batch.X[held]
            out = np.empty((X.shape[0], run.W.shape[0]))
            linear_outputs(X, run.W, run.intercept, out)
            w = batch.sample_weight
            w = np.ones(X.shape[0]) if w is None else w[held]
            part = self._score_part(np.ravel(batch.y)[held], out, w, models)
            if totals is not None:
                part = [a + b for a, b in zip(totals, part, strict=True)]
            totals = part
        return [self._score_value(t) for t in totals]

    def _end_epoch(self, source, run, models, epoch, mask, settings):
        tol = self.tol if self.tol is not None else -np.inf
        for k in models:
            if not (np.isfinite(run.intercept[k]) and np.isfinite(run.W[k]).all()):
                raise ValueError(
                    f"Floating-point under-/overflow occurred at epoch #{epoch + 1}. "
                    "Scaling input data with StandardScaler or MinMaxScaler might "
                    "help."
                )
        scores = None
        if settings["early_stopping"]:
            scores = self._validation_scores(source, run, mask, models)
        for i, k in enumerate(models):
            run.n_iter[k] = epoch + 1
            if scores is not None:
                score = scores[i]
                if tol > -np.inf and score < run.best_score[k] + tol:
                    run.no_improvement[k] += 1
                else:
                    run.no_improvement[k] = 0
                run.best_score[k] = max(run.best_score[k], score)
            else:
                objective = run.objective[k] / settings["train_count"]
                if tol > -np.inf and objective > run.best_objective[k] - tol:
                    run.no_improvement[k] += 1
                else:
                    run.no_improvement[k] = 0
                run.best_objective[k] = min(run.best_objective[k], objective)
            if run.no_improvement[k] >= self.n_iter_no_change:
                if self.learning_rate == "adaptive" and run.eta[k] > 1e-6:
                    run.eta[k] /= 5
                    run.no_improvement[k] = 0
                else:
                    run.active[k] = False
            if self.verbose:
                self._engine().log(
                    f"-- Epoch {epoch + 1} (model {k}): Norm: "
                    f"{np.linalg.norm(run.W[k] * run.wscale[k]):.2f}, Bias: "
                    f"{run.intercept[k]:.6f}, T: {run.count[k]}, Avg. loss: "
                    f"{run.sumloss[k] / settings['train_count']:.6f}"
                    + ("" if scores is None else f", Validation score: {scores[i]:f}")
                )

    def _sgd(self, source, run, groups, *, max_iter, mask, pos, neg, checkpoint):
        """Epochs of every group until each model stops or ``max_iter``."""
        code, param = self._loss_codes()
        early = mask is not None
        # scikit-learn's sparse dataset: nonzeros only, a damped intercept.
        sparse = sp.issparse(source.X)
        settings = {
            "pos": pos,
            "neg": neg,
            "args": (
                code,
                param,
                _PENALTIES[self.penalty],
                float(self.alpha),
                0.0 if self.l1_ratio is None else float(self.l1_ratio),
                _SCHEDULES[self.learning_rate],
                float(self.eta0),
                float(self.power_t),
                self._optimal_init(),
                bool(self.fit_intercept),
                0.01 if sparse else 1.0,
                float(self.average),
                bool(self.verbose) or not early,
            ),
            "early_stopping": early,
            "sparse": sparse,
            # One block: read once (not under a checkpoint, which digests
            # every pass's reads).
            "cache": (
                {"batch": source.read(0)}
                if source.n_batches == 1 and checkpoint is None
                else None
            ),
            "train_count": source.n_samples - (0 if mask is None else mask.sum()),
        }
        rng = np.random.default_rng(groups[0].seed)
        first = 0
        saved = checkpoint.load() if checkpoint is not None else None
        if saved is not None:
            run.restore(saved["models"])
            for group, index in zip(groups, saved["indices"], strict=True):
                group.index = index
            rng.bit_generator.state = saved["rng"]
            first = int(saved["n_iter"])
            self._engine().log(f"Resuming from {checkpoint.path} after epoch {first}")
        n_jobs = getattr(self, "n_jobs", None)
        for epoch in range(first, max_iter):
            busy = [g for g in groups if run.active[g.models].any()]
            if not busy:
                break

            def one(group, epoch=epoch):
                self._epoch(source, run, group, epoch, rng, mask, settings)
                models = group.models[run.active[group.models]]
                self._end_epoch(source, run, models, epoch, mask, settings)

            if len(busy) > 1 and n_jobs not in (None, 1):
                Parallel(n_jobs=n_jobs, require="sharedmem")(
                    delayed(one)(g) for g in busy
                )
            else:
                for group in busy:
                    one(group)
            if checkpoint is not None:
                checkpoint.save(
                    {
                        "models": run.state(),
                        "indices": [g.index for g in groups],
                        "rng": rng.bit_generator.state,
                        "n_iter": epoch + 1,
                        "seeds": [g.seed for g in groups],
                        "mask": mask,
                        "disk_seed": getattr(self, "_disk_seed", None),
                    }
                )
        run.finish()
        return int(run.n_iter.max())

    # -- one call of fit or partial_fit ------------------------------------------------

    def _allocate(self, n_models, n_features, dtype, coef_init, intercept_init):
        """scikit-learn's ``_allocate_parameter_mem``: zeros or the given start."""
        if n_models > 1:
            if coef_init is not None:
                coef = np.asarray(coef_init, dtype=dtype, order="C")
                if coef.shape != (n_models, n_features):
                    raise ValueError("Provided ``coef_`` does not match dataset. ")
            else:
                coef = np.zeros((n_models, n_features), dtype=dtype)
            if intercept_init is not None:
                intercept = np.asarray(intercept_init, dtype=dtype, order="C")
                if intercept.shape != (n_models,):
                    raise ValueError("Provided intercept_init does not match dataset.")
            else:
                intercept = np.zeros(n_models, dtype=dtype)
        else:
            if coef_init is not None:
                coef = np.asarray(coef_init, dtype=dtype, order="C").ravel()
                if coef.shape != (n_features,):
                    raise ValueError("Provided coef_init does not match dataset.")
                coef = coef.reshape(1, -1)
            else:
                coef = np.zeros((1, n_features), dtype=dtype)
            if intercept_init is not None:
                intercept = np.asarray(intercept_init, dtype=dtype)
                if intercept.shape != (1,) and intercept.shape != ():
                    raise ValueError("Provided intercept_init does not match dataset.")
                intercept = intercept.reshape(1)
            else:
                intercept = np.zeros(1, dtype=dtype)
        self._intercept_is_average = False
        self._sgd_state = {
            "coef": coef,
            "intercept": intercept,
            "avg_coef": np.zeros_like(coef) if self.average > 0 else None,
            "avg_intercept": np.zeros_like(intercept) if self.average > 0 else None,
        }

    def _call(
        self,
        X,
        y,
        sample_weight,
        *,
        whole,
        coef_init=None,
        intercept_init=None,
        reset=None,
    ):
        """One call: ``whole`` is ``fit`` (``max_iter`` epochs, the shuffle on
        disk, early stopping, checkpoints), else ``partial_fit`` (one epoch)."""
        if self.shuffle == "disk" and whole and sample_weight is not None:
            raise ValueError(
                "shuffle='disk' does not carry sample_weight to the shuffled copy; "
                "use shuffle=True, False or 'block' with sample_weight"
            )
        if reset is None:
            reset = not self.__sklearn_is_fitted__()
        probe = self._source(X, y, sample_weight, reset=reset, fitting=True)
        n_samples = probe.n_samples
        checkpoint, saved = None, None
        if whole and self.checkpoint is not None:
            checkpoint = self._checkpoint_of(probe)
            saved = checkpoint.load()
        shuffled = nullcontext((X, y))
        if whole and self.shuffle == "disk":
            # Its own seed: the seeds of scikit-learn's draws stay as they are.
            disk_seed = saved["disk_seed"] if saved is not None else None
            if disk_seed is None:
                disk_seed = int(np.random.default_rng(_seed_of(self)).integers(2**31))
            self._disk_seed = disk_seed
            shuffled = self._shuffled(X, y, disk_seed)
        if not (self.early_stopping and whole):
            _check_some_weight(probe)
        with shuffled as (X, y):
            source = probe
            if whole and self.shuffle == "disk":
                with warnings.catch_warnings():
                    # The shuffled copy has the columns, not their names.
                    warnings.filterwarnings("ignore", "X does not have valid feature")
                    source = self._source(
                        X, y, sample_weight, reset=False, fitting=True
                    )
            if checkpoint is not None:
                checkpoint.watch(source)
            dtype = np.float32 if source.X.dtype == np.float32 else np.float64
            self._prepare_targets(source, whole)
            n_models = self._n_models()
            if getattr(self, "_sgd_state", None) is None or coef_init is not None:
                self._allocate(
                    n_models, source.n_features, dtype, coef_init, intercept_init
                )
            if self.average > 0 and self._sgd_state["avg_coef"] is None:
                self._sgd_state["avg_coef"] = np.zeros_like(self._sgd_state["coef"])
                self._sgd_state["avg_intercept"] = np.zeros_like(
                    self._sgd_state["intercept"]
                )
            self._loss_function_ = self._get_loss_function(self.loss)
            if not hasattr(self, "t_"):
                self.t_ = 1.0
            mask, seeds = self._split_and_seeds(source, whole, n_models)
            if saved is not None:
                seeds, mask = saved["seeds"], saved["mask"]
            exact = self.shuffle is True
            if exact and n_models > 1:
                groups = [_Group([k], s, n_samples, exact) for k, s in enumerate(seeds)]
            else:
                groups = [_Group(np.arange(n_models), seeds[0], n_samples, exact)]
            state = self._sgd_state
            run = _Models(
                state["coef"],
                state["intercept"],
                state["avg_coef"] if self.average > 0 else None,
                state["avg_intercept"],
                self.t_,
                self.eta0,
            )
            pos, neg = self._class_weights(n_models)
            n_iter = self._sgd(
                source,
                run,
                groups,
                max_iter=self.max_iter if whole else 1,
                mask=mask,
                pos=pos,
                neg=neg,
                checkpoint=checkpoint,
            )
            if checkpoint is not None:
                checkpoint.close()
        self.t_ += n_iter * n_samples
        self.n_iter_ = n_iter
        intercept = run.intercept.astype(dtype)
        avg_intercept = None
        if self.average > 0:
            intercept, avg_intercept = self._kept_intercepts(
                intercept, run.avg_intercept.astype(dtype)
            )
        self._sgd_state = {
            "coef": run.W.astype(dtype),
            "intercept": intercept,
            "avg_coef": run.AW.astype(dtype) if self.average > 0 else None,
            "avg_intercept": avg_intercept,
        }
        self._publish()
        self._is_fitted = True
        if whole:
            if self.tol is not None and self.n_iter_ == self.max_iter:
                warnings.warn(
                    "Maximum number of iteration reached before convergence. "
                    "Consider increasing max_iter to improve the fit.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
            if self.power_t < 0:
                warnings.warn(
                    "Negative values for `power_t` are deprecated in version 1.8 "
                    "and will raise an error in 1.10. "
                    "Use values in the range [0.0, inf) instead.",
                    FutureWarning,
                    stacklevel=3,
                )
        return self

    def _kept_intercepts(self, intercept, avg_intercept):
        """The standard and averaged intercepts kept after a call."""
        return intercept, avg_intercept

    def _publish(self):
        """``coef_``/``intercept_`` (the averages once averaging has begun)."""
        state = self._sgd_state
        use_average = self.average > 0 and self.average <= self.t_ - 1
        coef = state["avg_coef"] if use_average else state["coef"]
        intercept = state["avg_intercept"] if use_average else state["intercept"]
        if self.average > 0:
            self._standard_coef = state["coef"]
            self._standard_intercept = state["intercept"]
            self._average_coef = state["avg_coef"]
            self._average_intercept = state["avg_intercept"]
        self._set_coef(coef.copy(), intercept.copy())

    def _outputs(self, X):
        coef = self.coef_
        coef = np.atleast_2d(coef.toarray() if sp.issparse(coef) else coef)
        out = np.empty((X.shape[0], coef.shape[0]))
        linear_outputs(X, coef, np.atleast_1d(self.intercept_), out)
        return out

    def _fit(self, X, y, coef_init, intercept_init, sample_weight):
        self._validate_params()
        self._more_validate_params()
        with self._transaction():
            self._reset_for_fit()
            if self.warm_start and getattr(self, "_sgd_state", None) is not None:
                if coef_init is None:
                    coef_init = self.coef_
                if intercept_init is None:
                    intercept_init = self.intercept_
                if not is_classifier(self):
                    # scikit-learn's regressor continues from its own state.
                    coef_init = intercept_init = None
            else:
                self._sgd_state = None
                self._is_fitted = False
            # scikit-learn's classifier checks the features anew; its
            # regressor, warm-started, against the previous fit.
            reset = is_classifier(self) or getattr(self, "_sgd_state", None) is None
            self.t_ = 1.0
            return self._call(
                X,
                y,
                sample_weight,
                whole=True,
                coef_init=coef_init,
                intercept_init=intercept_init,
                reset=reset,
            )

    def _reset_for_fit(self):
        pass


def _seed_of(estimator):
    """A seed for our own draws that leaves ``random_state`` untouched
    when it is an int or None (a RandomState instance is drawn from)."""
    state = estimator.random_state
    if state is None or isinstance(state, Integral):
        return state
    return check_random_state(state).randint(_MAX_INT)


def _check_some_weight(source):
    """scikit-learn's error for weights that are all zero (read in blocks)."""
    w = source.sample_weight
    if w is None or isinstance(w, float):
        return
    step = source.batch_size
    for start in range(0, source.n_samples, step):
        if np.any(np.asarray(w[start : start + step])):
            return
    raise ValueError("Sample weights must contain at least one non-zero number.")


def _take(source, rows):
    """``y[rows]`` in the order of ``rows``, read in file order and checked
    as a batch's ``y`` is (the first NaN or infinity is named)."""
    y = source.y
    unique, back = np.unique(rows, return_inverse=True)
    if hasattr(y, "oindex"):
        values = np.asarray(y.oindex[unique])
    else:
        values = np.asarray(y[unique])
    source.maker.check_block(values, "y", unique.shape[0], "sample")
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1)
        if bad.any():
            first = int(np.argmax(bad))
            what = "NaN" if np.isnan(values[first]).any() else "infinity"
            raise source._invalid_row("y", what, int(unique[first]))
    return values[back]


@register(SGDRegressor)
class StreamingSGDRegressor(StreamingRegressorMixin, RegressorMixin, _BaseStreamingSGD):
    """Linear regression by plain SGD (scikit-learn's) over streamed rows.

    The rows are read in blocks of ``buffer_mb`` megabytes; every row
    updates the model exactly as in :class:`sklearn.linear_model.SGDRegressor`
    (same losses, schedules, penalties, averaging and stopping rules), so the
    same rows in the same order give scikit-learn's model to rounding.

    Parameters
    ----------
    loss : {'squared_error', 'huber', 'epsilon_insensitive', \
            'squared_epsilon_insensitive'}, default='squared_error'
        The loss minimized.
    penalty : {'l2', 'l1', 'elasticnet', None}, default='l2'
        The regularization; L1 is applied by scikit-learn's cumulative
        truncated gradient.
    alpha : float, default=1e-4
        Strength of the penalty (and scale of the ``'optimal'`` schedule).
    l1_ratio : float or None, default=0.15
        Share of L1 in ``'elasticnet'``.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalized) intercept.
    max_iter : int, default=1000
        Epochs at most in ``fit``.
    tol : float or None, default=1e-3
        Stop when the objective (or the validation score with
        ``early_stopping``) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs; ``None`` runs ``max_iter`` epochs.
    shuffle : bool, 'block' or 'disk', default=True
        The order of the rows in each epoch. ``True`` is scikit-learn's
        permutation (the same for the same ``random_state``): it keeps an
        index of ``n_samples`` integers (4 bytes a row) in memory and reads
        the rows in that order, one block of positions at a time (random
        reads on a disk file).
        ``False`` reads them as they are. ``'block'`` (ours) visits the blocks
        in a random order and the rows of each block in a random order;
        ``'disk'`` (ours) writes a shuffled copy first
        (:func:`~sklearn_ooc.io.shuffle_on_disk`) and reads it in order. The
        last two read sequentially and differ from scikit-learn's order.
    verbose : int, default=0
        1 logs one line per epoch.
    epsilon : float, default=0.1
        The epsilon of the Huber and epsilon-insensitive losses.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffles and of the validation split.
    learning_rate : {'constant', 'optimal', 'invscaling', 'adaptive', \
            'pa1', 'pa2'}, default='invscaling'
        Step size schedule (scikit-learn's).
    eta0 : float, default=0.01
        Initial step size (the aggressiveness of ``'pa1'``/``'pa2'``).
    power_t : float, default=0.25
        Exponent of ``'invscaling'``.
    early_stopping : bool, default=False
        Hold out scikit-learn's validation split (a mask of ``n_samples``
        booleans, drawn after one pass over ``y``) and stop on its R²; costs
        one more pass per epoch.
    validation_fraction : float, default=0.1
        Fraction held out with ``early_stopping``.
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping (or dividing the
        ``'adaptive'`` step by 5).
    warm_start : bool, default=False
        Start ``fit`` from the previous solution.
    average : bool or int, default=False
        Averaged SGD: ``coef_`` is the average of the iterates from the
        ``average``-th row on (``True``: from the first).
    buffer_mb : float, default=64
        Megabytes of rows read per block (ours).
    checkpoint : str or os.PathLike, default=None
        A file that receives the state of the fit, atomically, after every
        epoch. A fit that finds a checkpoint of the same data and parameters
        resumes from it; one of other data or parameters is refused. See
        :ref:`checkpoints`.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Weights, in the dtype of ``X`` (float32 or float64).
    intercept_ : ndarray of shape (1,)
        Intercept.
    n_iter_ : int
        Epochs run.
    t_ : float
        Weight updates performed plus one, as in scikit-learn.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    StreamingRidge : The exact solution of ``loss='squared_error'``.
    sklearn.linear_model.SGDRegressor : The same model in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import SGDRegressor
    >>> from sklearn_ooc.linear_model import StreamingSGDRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 1.0
    >>> ours = StreamingSGDRegressor(random_state=0, buffer_mb=0.001).fit(X, y)
    >>> theirs = SGDRegressor(random_state=0).fit(X, y)
    >>> bool(np.allclose(ours.coef_, theirs.coef_, rtol=1e-10))
    True
    """

    loss_functions = _SklearnSGDRegressor.loss_functions
    _single_target = True

    _parameter_constraints: dict = {
        **_BaseStreamingSGD._parameter_constraints,
        "loss": [StrOptions(set(_SklearnSGDRegressor.loss_functions))],
    }

    def __init__(
        self,
        loss="squared_error",
        *,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        epsilon=0.1,
        random_state=None,
        learning_rate="invscaling",
        eta0=0.01,
        power_t=0.25,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        warm_start=False,
        average=False,
        buffer_mb=64,
        checkpoint=None,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.average = average
        self.buffer_mb = buffer_mb
        self.checkpoint = checkpoint

    def _prepare_targets(self, source, whole):
        pass

    def _n_models(self):
        return 1

    def _class_weights(self, n_models):
        return np.ones(1), np.ones(1)

    def _split_and_seeds(self, source, whole, n_models):
        mask = self._make_validation_split(source) if self.early_stopping else None
        rs = check_random_state(self.random_state)
        seed = rs.randint(0, _MAX_INT)
        return mask, [seed]

    def _targets(self, y, n_models):
        return np.ascontiguousarray(np.ravel(y), dtype=np.float64).reshape(-1, 1)

    def _score_part(self, y, outputs, w, models):
        return [RegressionScore.of_batch(y.astype(np.float64), outputs[:, 0], w)]

    def _score_value(self, total):
        return total.r2()

    def _set_coef(self, coef, intercept):
        self.coef_ = coef[0]
        self.intercept_ = intercept.reshape(1)

    def _predict_batch(self, X):
        return self._outputs(X)[:, 0]

    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit by scikit-learn's SGD, epoch after epoch, over streamed rows.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or array store of shape \
                (n_samples, n_features)
            Training rows; a path names a ``.npy`` file, read one block at a
            time.
        y : same kinds as X, of shape (n_samples,)
            Targets.
        coef_init : ndarray of shape (n_features,), default=None
            Starting weights.
        intercept_init : ndarray of shape (1,), default=None
            Starting intercept.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows' updates.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, coef_init, intercept_init, sample_weight)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of SGD over ``X`` from the current model, as scikit-learn's.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows' updates.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first = not self.__sklearn_is_fitted__()
        if first:
            self._validate_params()
            self._more_validate_params(for_partial_fit=True)
        with self._transaction():
            return self._call(X, y, sample_weight, whole=False)


@register(SGDClassifier)
class StreamingSGDClassifier(
    StreamingClassifierMixin, ClassifierMixin, _BaseStreamingSGD
):
    """Linear classification by plain SGD (scikit-learn's) over streamed rows.

    Reads the rows as :class:`StreamingSGDRegressor` does; every row updates
    the models exactly as in :class:`sklearn.linear_model.SGDClassifier`:
    one binary model for two classes, one per class otherwise (one-vs-rest),
    so that the same rows in the same order give scikit-learn's model to
    rounding.

    Parameters
    ----------
    loss : {'hinge', 'log_loss', 'modified_huber', 'squared_hinge', \
            'perceptron', 'squared_error', 'huber', 'epsilon_insensitive', \
            'squared_epsilon_insensitive'}, default='hinge'
        The loss minimized; ``'log_loss'`` and ``'modified_huber'`` give
        ``predict_proba``.
    penalty : {'l2', 'l1', 'elasticnet', None}, default='l2'
        The regularization; L1 is applied by scikit-learn's cumulative
        truncated gradient.
    alpha : float, default=1e-4
        Strength of the penalty (and scale of the ``'optimal'`` schedule).
    l1_ratio : float or None, default=0.15
        Share of L1 in ``'elasticnet'``.
    fit_intercept : bool, default=True
        Whether to fit (unpenalized) intercepts.
    max_iter : int, default=1000
        Epochs at most in ``fit``.
    tol : float or None, default=1e-3
        Stopping threshold (see :class:`StreamingSGDRegressor`).
    shuffle : bool, 'block' or 'disk', default=True
        The order of the rows (see :class:`StreamingSGDRegressor`). With
        ``True`` and more than two classes each one-vs-rest model has its own
        permutation, as in scikit-learn (an index of 4 bytes a row each), and
        its own pass over the data.
    verbose : int, default=0
        1 logs one line per epoch and model.
    epsilon : float, default=0.1
        The epsilon of the Huber and epsilon-insensitive losses.
    n_jobs : int, default=None
        Threads for the one-vs-rest models when they read the rows in
        different orders (``shuffle=True``); the result does not depend on it.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffles and of the validation split.
    learning_rate : {'constant', 'optimal', 'invscaling', 'adaptive', \
            'pa1', 'pa2'}, default='optimal'
        Step size schedule (scikit-learn's).
    eta0 : float, default=0.01
        Initial step size (the aggressiveness of ``'pa1'``/``'pa2'``).
    power_t : float, default=0.5
        Exponent of ``'invscaling'``.
    early_stopping : bool, default=False
        Hold out scikit-learn's stratified validation split (a mask of
        ``n_samples`` booleans, drawn after one pass over ``y``) and stop on
        its accuracy; costs one more pass per epoch.
    validation_fraction : float, default=0.1
        Fraction held out with ``early_stopping``.
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping.
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes; ``'balanced'`` counts the classes in the pass
        that finds them.
    warm_start : bool, default=False
        Start ``fit`` from the previous solution.
    average : bool or int, default=False
        Averaged SGD (see :class:`StreamingSGDRegressor`).
    buffer_mb : float, default=64
        Megabytes of rows read per block (ours).
    checkpoint : str or os.PathLike, default=None
        A file that receives the state of the fit after every epoch; see
        :class:`StreamingSGDRegressor`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights, in the dtype of ``X``.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    n_iter_ : int
        Epochs run (the most of the one-vs-rest models).
    t_ : float
        Weight updates performed plus one, as in scikit-learn.
    loss_functions : dict
        scikit-learn's loss classes, by name.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.SGDClassifier : The same model in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import SGDClassifier
    >>> from sklearn_ooc.linear_model import StreamingSGDClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-2, 1, (100, 2)), rng.normal(2, 1, (100, 2))])
    >>> y = np.repeat(["a", "b"], 100)
    >>> ours = StreamingSGDClassifier(random_state=0, buffer_mb=0.001).fit(X, y)
    >>> theirs = SGDClassifier(random_state=0).fit(X, y)
    >>> bool(np.allclose(ours.coef_, theirs.coef_, rtol=1e-10))
    True
    >>> ours.predict([[-3.0, -2.0], [2.0, 3.0]]).tolist()
    ['a', 'b']
    """

    loss_functions = _SklearnSGDClassifier.loss_functions
    _y_numeric = False

    _parameter_constraints: dict = {
        **_BaseStreamingSGD._parameter_constraints,
        "loss": [StrOptions(set(_SklearnSGDClassifier.loss_functions))],
        "n_jobs": [Integral, None],
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        loss="hinge",
        *,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        epsilon=0.1,
        n_jobs=None,
        random_state=None,
        learning_rate="optimal",
        eta0=0.01,
        power_t=0.5,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        class_weight=None,
        warm_start=False,
        average=False,
        buffer_mb=64,
        checkpoint=None,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.average = average
        self.buffer_mb = buffer_mb
        self.checkpoint = checkpoint

    def _reset_for_fit(self):
        self.__dict__.pop("classes_", None)
        self._class_counts = None

    def _prepare_targets(self, source, whole):
        if whole:
            counts = {}
            for batch in source.iter_batches(range(source.n_batches)):
                labels, n = np.unique(np.ravel(batch.y), return_counts=True)
                for label, c in zip(labels.tolist(), n.tolist(), strict=True):
                    counts[label] = counts.get(label, 0) + c
            classes = np.unique(np.array(list(counts)))
            kind = type_of_target(classes)
            if kind == "continuous" or kind.startswith("continuous"):
                raise ValueError(f"Unknown label type: {kind}")
            self.classes_ = classes
            self._class_counts = np.array([counts[c] for c in classes.tolist()])
        if len(self.classes_) < 2:
            raise ValueError(
                "The number of classes has to be greater than one; got "
                f"{len(self.classes_)} class"
            )
        if self.class_weight == "balanced":
            if not whole:
                raise ValueError(_BALANCED_PARTIAL_FIT)
            counts = self._class_counts
            weights = source.n_samples / (len(self.classes_) * counts.astype(float))
        else:
            weights = compute_class_weight(
                self.class_weight, classes=self.classes_, y=self.classes_
            )
        self._expanded_class_weight = weights

    def _n_models(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _kept_intercepts(self, intercept, avg_intercept):
        # scikit-learn's classifier, once averaging has begun, keeps the
        # standard intercepts of the call that began it (later calls start
        # from those); with several classes, its one-vs-rest results are
        # written into the array ``intercept_`` is, the averaged one from
        # then on. Followed here, so that partial_fit gives its numbers.
        averaging = self.average <= self.t_ - 1
        before = self._sgd_state["intercept"]
        if len(self.classes_) == 2:
            kept = (before if averaging else intercept), avg_intercept
        elif self._intercept_is_average:
            kept = before, intercept
        else:
            kept = intercept, avg_intercept
        self._intercept_is_average = averaging
        return kept

    def _class_weights(self, n_models):
        cw = np.asarray(self._expanded_class_weight, dtype=np.float64)
        if n_models == 1:
            return cw[1:2].copy(), cw[0:1].copy()
        return cw.copy(), np.ones(n_models)

    def _split_and_seeds(self, source, whole, n_models):
        early = self.early_stopping and whole
        if n_models == 1:
            rs = check_random_state(self.random_state)
            rs.randint(1, _MAX_INT)  # scikit-learn's dataset seed
            mask = self._make_validation_split(source) if early else None
            return mask, [rs.randint(_MAX_INT)]
        mask = self._make_validation_split(source) if early else None
        seeds = check_random_state(self.random_state).randint(_MAX_INT, size=n_models)
        shuffle_seeds = []
        for seed in seeds:
            rs = check_random_state(seed)
            rs.randint(1, _MAX_INT)
            shuffle_seeds.append(rs.randint(_MAX_INT))
        return mask, shuffle_seeds

    def _targets(self, y, n_models):
        y = np.ravel(y)
        if not np.isin(y, self.classes_).all():
            # scikit-learn's partial_fit error (compute_class_weight's).
            raise ValueError("classes should include all valid labels that can be in y")
        negative = 0.0 if self.loss == "log_loss" else -1.0
        if n_models == 1:
            hit = (y == self.classes_[1])[:, None]
        else:
            hit = y[:, None] == self.classes_[None, :]
        return np.where(hit, 1.0, negative)

    def _score_part(self, y, outputs, w, models):
        Y = self._targets(y, outputs.shape[1])
        predicted = np.where(outputs[:, models] > 0, 1.0, -1.0)
        right = w @ (predicted == Y[:, models])
        return [np.array([r, w.sum()]) for r in np.atleast_1d(right)]

    def _score_value(self, total):
        return total[0] / total[1]

    def _set_coef(self, coef, intercept):
        self.coef_ = coef
        self.intercept_ = intercept

    def _labels_of(self, scores):
        if scores.shape[1] == 1:
            return self.classes_[(scores[:, 0] > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]

    def _predict_batch(self, X):
        return self._labels_of(self._outputs(X))

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

    def _check_proba(self):
        if self.loss not in ("log_loss", "modified_huber"):
            raise AttributeError(
                f"probability estimates are not available for loss={self.loss!r}"
            )
        return True

    @available_if(_check_proba)
    def predict_proba(self, X):
        """Class probabilities, streamed, as scikit-learn computes them.

        ``'log_loss'``: the logistic function of each score, normalized over
        the one-vs-rest models. ``'modified_huber'``: ``(clip(score, -1, 1)
        + 1) / 2``, normalized likewise.

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
        if self.loss == "log_loss":
            prob = 1.0 / (1.0 + np.exp(-scores))
        else:
            prob = (np.clip(scores, -1, 1) + 1.0) / 2.0
        if prob.shape[1] == 1:
            return np.column_stack([1 - prob[:, 0], prob[:, 0]])
        total = prob.sum(axis=1)
        zero = total == 0
        prob[zero, :] = 1
        total[zero] = prob.shape[1]
        return prob / total[:, None]

    @available_if(_check_proba)
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Log-probabilities.
        """
        return np.log(self.predict_proba(X))

    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit by scikit-learn's SGD, epoch after epoch, over streamed rows.

        One pass first finds the classes (and counts them for
        ``class_weight='balanced'``).

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or array store of shape \
                (n_samples, n_features)
            Training rows; a path names a ``.npy`` file, read one block at a
            time.
        y : same kinds as X, of shape (n_samples,)
            Labels.
        coef_init : ndarray of shape (n_classes, n_features), default=None
            Starting weights.
        intercept_init : ndarray of shape (n_classes,), default=None
            Starting intercepts.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows' updates (times the class weights).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, coef_init, intercept_init, sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of SGD over ``X`` from the current model, as scikit-learn's.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.
        y : array-like of shape (n_samples,)
            Labels.
        classes : array-like, default=None
            Every label of the problem (required on the first call).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows' updates.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if not hasattr(self, "classes_"):
            self._validate_params()
            self._more_validate_params(for_partial_fit=True)
            if self.class_weight == "balanced":
                raise ValueError(_BALANCED_PARTIAL_FIT)
        with self._transaction():
            _check_partial_fit_first_call(self, classes)
            return self._call(X, y, sample_weight, whole=False)


_BALANCED_PARTIAL_FIT = (
    "class_weight 'balanced' is not supported for partial_fit. In order to use "
    "'balanced' weights, use compute_class_weight('balanced', classes=classes, "
    "y=y). In place of y you can use a large enough sample of the full training "
    "set target to properly estimate the class frequency distributions. Pass the "
    "resulting weights as the class_weight parameter."
)
