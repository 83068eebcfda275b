"""Any scikit-learn estimator with ``partial_fit``, fed from data on disk."""

from __future__ import annotations

import copy
from contextlib import contextmanager, nullcontext
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .._stats import LabelSet, RegressionScore
from ..base import SequentialMixin


def _wrapped_has(name):
    def check(self):
        return hasattr(self.estimator, name)

    return check


class Incremental(MetaEstimatorMixin, SequentialMixin, BaseEstimator):
    """Fit any estimator that has ``partial_fit`` from data larger than memory.

    Reads ``X`` (and ``y``) in blocks of ``buffer_mb`` megabytes and calls the
    wrapped estimator's ``partial_fit`` on consecutive minibatches of
    ``batch_size`` rows, for ``max_iter`` epochs, the rows mixed as
    ``shuffle`` says (a random block order and random rows within blocks, or
    a shuffled copy on disk). ``predict``, ``predict_proba``,
    ``decision_function``, ``transform`` and ``score`` are applied batch by
    batch. This is dask-ml's ``Incremental`` without Dask, with several
    epochs.

    Parameters
    ----------
    estimator : estimator with ``partial_fit``
        Cloned at each ``fit``: ``SGDClassifier``, ``MultinomialNB``,
        ``MLPClassifier``, ``MiniBatchKMeans``, ``IncrementalPCA``, ...
    batch_size : int, default=1024
        Rows per ``partial_fit`` call.
    max_iter : int, default=1
        Epochs.
    shuffle : {'block', 'disk'} or False, default='block'
        How rows are mixed between epochs.
    buffer_mb : float, default=64
        Megabytes of rows read per block.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffles.
    verbose : int, default=0
        2 shows a progress bar over the blocks of each epoch.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone of ``estimator``.
    classes_ : ndarray
        The labels (classifiers).
    n_iter_ : int
        Epochs run (``partial_fit`` counts one each).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn_ooc import Incremental
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-2, 1, (300, 2)), rng.normal(2, 1, (300, 2))])
    >>> y = np.repeat([0, 1], 300)
    >>> model = Incremental(GaussianNB(), batch_size=50, random_state=0).fit(X, y)
    >>> model.predict([[-2.0, -2.0], [2.0, 2.0]]).tolist()
    [0, 1]
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["partial_fit"])],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": [StrOptions({"block", "disk"}), "boolean"],
        "buffer_mb": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        batch_size=1024,
        max_iter=1,
        shuffle="block",
        buffer_mb=64,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.buffer_mb = buffer_mb
        self.random_state = random_state
        self.verbose = verbose

    @property
    def _requires_y(self):
        return is_classifier(self.estimator) or self._is_regressor()

    @property
    def _y_numeric(self):
        return not is_classifier(self.estimator)

    def _is_regressor(self):
        from sklearn.base import is_regressor

        return is_regressor(self.estimator)

    def __sklearn_tags__(self):
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.transformer_tags = inner.transformer_tags
        tags.target_tags.required = inner.target_tags.required
        tags.target_tags.multi_output = False
        tags.input_tags.positive_only = inner.input_tags.positive_only
        return tags

    def _epochs(self, X, y, estimator, classes, epochs, reset):
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        rng = np.random.default_rng(seed)
        with self._shuffled(X, y, seed) if reset else nullcontext((X, y)) as (X, y):
            source = self._source(X, y, reset=reset, fitting=True)
            if is_classifier(estimator) and classes is None and reset:
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
            extra = {"classes": classes} if is_classifier(estimator) else {}

            def step(batch):
                rows = self._row_order(np.arange(batch.n_samples), rng)
                for start in range(0, rows.shape[0], self.batch_size):
                    take = rows[start : start + self.batch_size]
                    y_part = None if batch.y is None else np.ravel(batch.y)[take]
                    estimator.partial_fit(batch.X[take], y_part, **extra)

            for epoch in range(epochs):
                order = self._block_order(source, rng)
                self._visit(source, order, step, desc=f"epoch {epoch + 1}")
        return classes

    def fit(self, X, y=None, *, classes=None):
        """Clone the estimator and feed it every row, ``max_iter`` times.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or array store of shape \
                (n_samples, n_features)
            Rows; a path names a ``.npy`` file, read one block at a time.
        y : same kinds as X, of shape (n_samples,), default=None
            Targets, if the estimator needs them.
        classes : array-like, default=None
            Classifiers: every label (else found in one pass over ``y``).

        Returns
        -------
        self : object
            The fitted wrapper.
        """
        self._validate_params()
        with self._transaction():
            estimator = clone(self.estimator)
            classes = self._epochs(X, y, estimator, classes, self.max_iter, True)
            self._publish(estimator, classes, self.max_iter)
        return self

    def partial_fit(self, X, y=None, *, classes=None):
        """One epoch over ``X`` into the current (or a new) estimator.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.
        y : array-like of shape (n_samples,), default=None
            Targets.
        classes : array-like, default=None
            Classifiers: every label (needed on the first call).

        Returns
        -------
        self : object
            The updated wrapper.
        """
        first = not self.__sklearn_is_fitted__()
        if first:
            self._validate_params()
            if is_classifier(self.estimator) and classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit."
                )
        with self._transaction(), self._restoring(None if first else self.estimator_):
            estimator = clone(self.estimator) if first else self.estimator_
            if classes is None and not first:
                classes = getattr(self, "classes_", None)
            classes = self._epochs(X, y, estimator, classes, 1, first)
            self._publish(estimator, classes, 1 if first else self.n_iter_ + 1)
        return self

    @staticmethod
    @contextmanager
    def _restoring(estimator):
        """Put ``estimator`` back as it was if the block fails.

        The wrapped ``partial_fit`` updates the estimator's arrays in place,
        block after block, which the wrapper's transaction (a shallow
        snapshot of its own attributes) cannot undo. A deep copy of the
        estimator's attributes (its parameters, not data) can; restoring it
        in place keeps ``estimator_`` the same object across calls.
        """
        if estimator is None:
            yield
            return
        saved = copy.deepcopy(estimator.__dict__)
        try:
            yield
        except BaseException:
            estimator.__dict__.clear()
            estimator.__dict__.update(saved)
            raise

    def _publish(self, estimator, classes, epochs):
        self.n_iter_ = epochs
        self.estimator_ = estimator
        if classes is not None:
            self.classes_ = np.asarray(classes)
        self._is_fitted = True

    @available_if(_wrapped_has("predict"))
    def predict(self, X):
        """The wrapped estimator's ``predict``, batch by batch.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.

        Returns
        -------
        ndarray
            Predictions, stacked in row order.
        """
        return self._map_rows(X, lambda b: self.estimator_.predict(b.X))

    @available_if(_wrapped_has("predict_proba"))
    def predict_proba(self, X):
        """The wrapped estimator's ``predict_proba``, batch by batch.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.

        Returns
        -------
        ndarray
            Probabilities, stacked in row order.
        """
        return self._map_rows(X, lambda b: self.estimator_.predict_proba(b.X))

    @available_if(_wrapped_has("decision_function"))
    def decision_function(self, X):
        """The wrapped estimator's ``decision_function``, batch by batch.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.

        Returns
        -------
        ndarray
            Scores, stacked in row order.
        """
        return self._map_rows(X, lambda b: self.estimator_.decision_function(b.X))

    @available_if(_wrapped_has("transform"))
    def transform(self, X):
        """The wrapped estimator's ``transform``, batch by batch.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.

        Returns
        -------
        ndarray
            Transformed rows, stacked in row order.
        """
        return self._map_rows(X, lambda b: self.estimator_.transform(b.X))

    @available_if(lambda self: is_classifier(self.estimator) or self._is_regressor())
    def score(self, X, y, sample_weight=None):
        """Accuracy (classifiers) or R² (regressors), streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows.
        y : array-like of shape (n_samples,)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        float
            The score of the whole data.
        """
        check_is_fitted(self)
        source = self._source(X, y, sample_weight, reset=False)
        classify = is_classifier(self.estimator)

        def summarize(batch):
            pred = self.estimator_.predict(batch.X)
            truth = np.ravel(batch.y)
            if not classify:
                return RegressionScore.of_batch(truth, pred, batch.sample_weight)
            w = (
                np.ones(batch.n_samples)
                if batch.sample_weight is None
                else (batch.sample_weight)
            )
            return np.array([w @ (pred == truth), w.sum()])

        stats = self._engine().reduce(source, range(source.n_batches), summarize)
        if classify:
            return float(stats[0] / stats[1])
        return stats.r2()
