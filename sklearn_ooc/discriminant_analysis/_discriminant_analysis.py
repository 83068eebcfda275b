"""Linear and quadratic discriminant analysis from per-class statistics."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy import linalg
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from .._out_of_core import register
from .._stats import (
    GroupedMoments,
    RootMoments,
    common_exponent,
    largest_positive,
    moments_of_rows,
    needed_exponent,
)
from ..base import ClosedFormMixin, StreamingClassifierMixin

_TINY = np.finfo(np.float64).tiny


def _rescaled_moments(rows, workspace=None):
    # Scaled by powers of two where the rows' products leave float64's range.
    return moments_of_rows(rows, workspace=workspace, rescale=True)


def _scale_rows(values, exponent):
    """``values[j] * 2**exponent[j]`` (rows of a matrix, or a vector)."""
    if not exponent.any():
        return values
    return np.ldexp(values, exponent if values.ndim == 1 else exponent[:, None])


def _unscaled_covariance(covariance, exponent):
    """The covariance in the units of X, or a ``ValueError`` saying which
    features' variances float64 cannot hold."""
    if not exponent.any():
        return covariance
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(covariance, exponent[:, None] + exponent[None, :])
    over = ~np.isfinite(out).all(axis=1)
    under = (np.diagonal(covariance) > 0) & (np.diagonal(out) < _TINY)
    if over.any() or under.any():
        which = "exceed" if over.any() else "fall below"
        raise ValueError(
            "The within-class variances of feature(s) "
            f"{np.flatnonzero(over | under).tolist()} {which} float64's range "
            "(2.2e-308 to 1.8e308): covariance_ cannot be represented. Please "
            "scale X, e.g. with sklearn.preprocessing.StandardScaler."
        )
    return out


def _squares_over(values, count):
    """``values**2 / count``, finite wherever the quotient is representable.

    Squared as they are, singular values beyond about 1e154 overflow; scaled
    into range by a power of two first, they round as they would unscaled.
    """
    top = values.max(initial=0.0)
    scale = int(needed_exponent(np.log2(top))) if top > 0 else 0
    if not scale:
        return values**2 / count
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(np.ldexp(values, -scale) ** 2 / count, 2 * scale)


def _check_finite_model(coef, intercept):
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise ValueError(
            "The coefficients or intercepts exceed float64's range (1.8e308): "
            "the classes are too close for the scale of X. Please scale X, "
            "e.g. with sklearn.preprocessing.StandardScaler."
        )


def _shrunk(covariance, shrinkage):
    """``(1 - s) C + s trace(C) / d I``, scikit-learn's shrunk covariance."""
    if not shrinkage:
        return covariance
    d = covariance.shape[0]
    out = (1.0 - shrinkage) * covariance
    out.flat[:: d + 1] += shrinkage * np.trace(covariance) / d
    return out


class _DiscriminantBase(
    StreamingClassifierMixin, ClassifierMixin, ClosedFormMixin, BaseEstimator
):
    """One pass gathering the count, mean and scatter of every class."""

    _y_numeric = False
    _single_target = True

    def fit(self, X, y, *, batch_size=None):
        """Fit from one pass over ``X`` and ``y``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, LazyArray or array store \
                of shape (n_samples, n_features)
            Rows.
        y : array-like of shape (n_samples,)
            Labels.
        batch_size : int or "auto", default=None
            Rows per batch for this call.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, batch_size=batch_size)

    def partial_fit(self, X, y, classes=None):
        """Add the rows of ``X`` to the model: exact incremental fitting.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.
        y : array-like of shape (n_samples,)
            Labels.
        classes : array-like, default=None
            Accepted for scikit-learn's ``partial_fit`` signature; the classes
            are those of the rows seen.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return super().partial_fit(X, y)

    def summarize(self, X, y):
        """Accumulate per-class statistics without changing the model.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        self : object
        """
        return super().summarize(X, y)

    _requires_y = True

    def _summarize(self, batch):
        return GroupedMoments.of_batch(
            batch.X, batch.y, batch.workspace, of_rows=_rescaled_moments
        )

    def _class_statistics(self, stats):
        classes = np.array(sorted(stats.groups))
        kind = type_of_target(classes)
        if kind.startswith("continuous"):
            raise ValueError(f"Unknown label type: {kind}")
        if len(classes) < 2:
            raise ValueError(
                "The number of classes has to be greater than one. Got "
                f"{len(classes)} class."
            )
        moments = [stats.groups[c] for c in classes.tolist()]
        counts = np.array([m.count for m in moments], dtype=np.float64)
        if self.priors is None:
            priors = counts / counts.sum()
        else:
            priors = np.asarray(self.priors, dtype=np.float64)
            if priors.shape != (len(classes),):
                raise ValueError(
                    f"priors has {priors.size} values for {len(classes)} classes"
                )
            if np.any(priors < 0):
                raise ValueError("priors must be non-negative")
            priors = priors / priors.sum()
        self.classes_ = classes
        self.priors_ = priors
        self.means_ = np.array([m.mean for m in moments])
        return moments, counts

    def _decision(self, X):
        raise NotImplementedError

    def _predict_batch(self, X):
        return self.classes_[np.argmax(self._decision(X), axis=1)]

    def decision_function(self, X):
        """Decision values, streamed; 1-D for two classes.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self._map_rows(X, lambda b: self._binary(self._decision(b.X)))

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
        check_is_fitted(self)
        return self._map_rows(X, lambda b: self._proba(self._decision(b.X)))

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
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba)


def _from_lda(params):
    """LinearDiscriminantAnalysis's parameters as ours (for ``out_of_core``)."""
    if params["solver"] == "svd":
        raise ValueError(
            "LinearDiscriminantAnalysis(solver='svd') has no out-of-core "
            "equivalent yet; solver='lsqr' or 'eigen' give the same predictions "
            "on data of full rank"
        )
    del params["tol"]  # the svd solver's rank threshold
    return params


@register(LinearDiscriminantAnalysis, convert=_from_lda)
class OOCLinearDiscriminantAnalysis(_DiscriminantBase):
    """Linear discriminant analysis from one pass of per-class statistics.

    The counts, means and scatter of every class are gathered in one pass,
    merged stably; the model is then scikit-learn's
    :class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis` with
    ``solver='lsqr'`` or ``solver='eigen'`` on those statistics: the same
    coefficients, to rounding. (The ``'svd'`` solver needs the data matrix.)

    Parameters
    ----------
    solver : {'lsqr', 'eigen'}, default='lsqr'
        Least squares on the within-class covariance, or the generalized
        eigenproblem (which also gives ``transform``).
    shrinkage : float in [0, 1] or None, default=None
        Fixed shrinkage of the covariance (``'auto'``, Ledoit-Wolf, needs a
        second pass and is not offered).
    priors : array-like of shape (n_classes,), default=None
        Class priors; the class proportions if ``None``.
    n_components : int, default=None
        Dimensions of ``transform`` (eigen solver).
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_classes, n_features)
        Weights (one row for two classes).
    intercept_ : ndarray of shape (n_classes,)
        Intercepts.
    covariance_ : ndarray of shape (n_features, n_features)
        Within-class covariance.
    means_ : ndarray of shape (n_classes, n_features)
        Class means.
    priors_ : ndarray of shape (n_classes,)
        Class priors.
    classes_ : ndarray of shape (n_classes,)
        Labels.
    scalings_ : ndarray of shape (n_features, n_features)
        Eigenvectors (eigen solver).
    explained_variance_ratio_ : ndarray of shape (n_components,)
        Variance explained by each discriminant (eigen solver).
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.discriminant_analysis import OOCLinearDiscriminantAnalysis
    >>> X = np.array([[-1.0, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]])
    >>> y = np.array([1, 1, 1, 2, 2, 2])
    >>> OOCLinearDiscriminantAnalysis(batch_size=2).fit(X, y).predict([[-0.8, -1]])
    array([1])
    """

    _parameter_constraints: dict = {
        "solver": [StrOptions({"lsqr", "eigen"})],
        "shrinkage": [Interval(Real, 0, 1, closed="both"), None],
        "priors": ["array-like", None],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        solver="lsqr",
        shrinkage=None,
        priors=None,
        n_components=None,
        *,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.solver = solver
        self.shrinkage = shrinkage
        self.priors = priors
        self.n_components = n_components
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        if self.solver == "eigen":
            tags.transformer_tags = TransformerTags(preserves_dtype=["float64"])
        return tags

    def _from_summaries(self, stats):
        moments, counts = self._class_statistics(stats)
        n_features = self.means_.shape[1]
        max_components = min(len(self.classes_) - 1, n_features)
        if self.n_components is not None and self.n_components > max_components:
            raise ValueError(
                "n_components cannot be larger than min(n_features, n_classes - 1)."
            )
        self._max_components = self.n_components or max_components
        total = None
        if self.solver == "eigen":
            total = moments[0].copy()
            for m in moments[1:]:
                total += m
        # Features whose products leave float64's range are scaled by powers
        # of two, exactly: the covariance C is T C' T, T = diag(2**exponent).
        # The shrinkage target mixes the features' scales: one for all then.
        exponent = common_exponent(
            moments + ([total] if total is not None else []),
            uniform=bool(self.shrinkage),
        )
        covariances = [
            _shrunk(m.scatter_at(exponent) / c, self.shrinkage)
            for m, c in zip(moments, counts, strict=True)
        ]
        covariance = sum(p * c for p, c in zip(self.priors_, covariances, strict=True))
        self.covariance_ = _unscaled_covariance(covariance, exponent)
        # coef_k = A mu_k (A the inverse covariance, or the projection on the
        # discriminant axes) and intercept_k = -mu_k A mu_k / 2 + log p_k are
        # taken about the data mean c: with mu_k = c + delta_k, the parts
        # c A c and A c common to all classes stay apart, so data far from
        # the origin lose no digits to them (and two classes none at all).
        # The means' rounding errors join the differences: far from the
        # origin, means rounded to float64 would blur the classes' offsets.
        center = counts @ self.means_ / counts.sum()
        deltas = np.array([(m.mean - center) + m.mean_error for m in moments])
        if self.solver == "lsqr":
            # C x = b is C' (T x) = T^-1 b.
            rhs = _scale_rows(np.column_stack([deltas.T, center]), -exponent)
            solved = _scale_rows(linalg.lstsq(covariance, rhs)[0], -exponent)
            coef_deltas, coef_center = solved[:, :-1].T, solved[:, -1]
        else:
            total_cov = _shrunk(
                total.scatter_at(exponent) / total.count, self.shrinkage
            )
            # The same eigenvalues; an eigenvector v of C' is T v of C.
            evals, evecs = linalg.eigh(total_cov - covariance, covariance)
            self.explained_variance_ratio_ = np.sort(evals / np.sum(evals))[::-1][
                : self._max_components
            ]
            evecs = evecs[:, np.argsort(evals)[::-1]]
            scalings = _scale_rows(evecs, -exponent)
            signed = largest_positive(scalings.T).T
            signs = np.where(np.all(signed == scalings, axis=0), 1.0, -1.0)
            evecs = evecs * signs
            self.scalings_ = signed
            # deltas @ scalings is (T^-1 deltas) @ evecs: no overflow between.
            coef_deltas = (_scale_rows(deltas.T, -exponent).T @ evecs) @ signed.T
            coef_center = (_scale_rows(center, -exponent) @ evecs) @ signed.T
        # The intercepts about the center: decision_k(x) = (x - c) coef_k +
        # local_k, with local_k = intercept_k + c coef_k.
        local = np.log(self.priors_) - 0.5 * np.einsum("kj,kj->k", deltas, coef_deltas)
        crossed = deltas @ coef_center
        common = 0.5 * center @ coef_center
        if len(self.classes_) == 2:
            self.coef_ = (coef_deltas[1] - coef_deltas[0])[None, :]
            self._local_intercept = np.array([local[1] - local[0]])
            self.intercept_ = self._local_intercept - (crossed[1] - crossed[0])
        else:
            self.coef_ = coef_deltas + coef_center
            self._local_intercept = local + common
            self.intercept_ = local - crossed - common
        _check_finite_model(self.coef_, self.intercept_)
        self._center = center

    def _decision(self, X):
        # About the center, the products stay the size of the data's spread.
        scores = (X - self._center) @ self.coef_.T + self._local_intercept
        if scores.shape[1] == 1:
            return np.column_stack([np.zeros(len(X)), scores[:, 0]])
        return scores

    def _binary(self, scores):
        return scores[:, 1] if len(self.classes_) == 2 else scores

    def _proba(self, scores):
        if len(self.classes_) == 2:
            p = expit(scores[:, 1])
            return np.column_stack([1 - p, p])
        return softmax(scores, axis=1)

    @available_if(lambda self: self.solver == "eigen")
    def transform(self, X):
        """Project on the discriminant directions (eigen solver), streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        scalings = self.scalings_[:, : self._max_components]
        return self._map_rows(X, lambda b: b.X @ scalings, desc="transform")

    @available_if(lambda self: self.solver == "eigen")
    def fit_transform(self, X, y, **fit_params):
        """Fit, then project ``X`` (eigen solver).

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.
        y : array-like of shape (n_samples,)
            Labels.
        **fit_params : dict
            ``batch_size`` for the fit.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        return self.fit(X, y, **fit_params).transform(X)


def _variance_overflow(label):
    return ValueError(
        f"The variances of class {label} exceed float64's range (1.8e308; "
        "values beyond about 1e154 in magnitude): its covariance cannot be "
        "represented. Please scale X, e.g. with "
        "sklearn.preprocessing.StandardScaler."
    )


@register(QuadraticDiscriminantAnalysis)
class OOCQuadraticDiscriminantAnalysis(_DiscriminantBase):
    """Quadratic discriminant analysis from one pass of per-class statistics.

    Each class's covariance comes from its merged statistics; its
    eigen-decomposition gives the rotations and scalings that
    :class:`~sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis`
    gets from an SVD of the class's rows (``solver='svd'``) or from the
    same eigen-decomposition (``solver='eigen'``): the same decisions and
    probabilities, to rounding.

    Parameters
    ----------
    solver : {'svd', 'eigen'}, default='svd'
        ``'svd'`` regularizes the scalings with ``reg_param``; ``'eigen'``
        shrinks the covariances with ``shrinkage``.
    shrinkage : float in [0, 1] or None, default=None
        Shrinkage of the eigen solver.
    priors : array-like of shape (n_classes,), default=None
        Class priors; the class proportions if ``None``.
    reg_param : float in [0, 1], default=0.0
        Regularization of the svd solver's scalings.
    store_covariance : bool, default=False
        Whether to keep ``covariance_``.
    tol : float, default=1e-4
        Scalings below this make a class's covariance rank deficient.
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar.

    Attributes
    ----------
    means_ : ndarray of shape (n_classes, n_features)
        Class means.
    priors_ : ndarray of shape (n_classes,)
        Class priors.
    rotations_ : list of ndarray
        Eigenvectors of every class's covariance.
    scalings_ : list of ndarray
        Its eigenvalues, by decreasing size.
    covariance_ : list of ndarray
        Class covariances (``store_covariance``).
    classes_ : ndarray of shape (n_classes,)
        Labels.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.discriminant_analysis import (
    ...     OOCQuadraticDiscriminantAnalysis)
    >>> X = np.array([[-1.0, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]])
    >>> y = np.array([1, 1, 1, 2, 2, 2])
    >>> OOCQuadraticDiscriminantAnalysis().fit(X, y).predict([[-0.8, -1]])
    array([1])
    """

    _parameter_constraints: dict = {
        "solver": [StrOptions({"svd", "eigen"})],
        "shrinkage": [Interval(Real, 0, 1, closed="both"), None],
        "priors": ["array-like", None],
        "reg_param": [Interval(Real, 0, 1, closed="both")],
        "store_covariance": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        *,
        solver="svd",
        shrinkage=None,
        priors=None,
        reg_param=0.0,
        store_covariance=False,
        tol=1.0e-4,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.solver = solver
        self.shrinkage = shrinkage
        self.priors = priors
        self.reg_param = reg_param
        self.store_covariance = store_covariance
        self.tol = tol
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _summarize(self, batch):
        return GroupedMoments.of_batch(
            batch.X, batch.y, batch.workspace, of_rows=RootMoments.of_rows
        )

    def _from_summaries(self, stats):
        if self.solver == "svd" and self.shrinkage is not None:
            raise NotImplementedError("shrinkage not supported with 'svd' solver.")
        moments, counts = self._class_statistics(stats)
        n_features = self.means_.shape[1]
        scalings, rotations, covariances = [], [], []
        for label, m, count in zip(self.classes_, moments, counts, strict=True):
            if count == 1:
                raise ValueError(
                    f"y has only 1 sample in class {label}, covariance is ill defined."
                )
            if self.solver == "svd":
                # The SVD of the class's centered rows, from their R factor.
                singular_values, vectors = m.spectrum()
                scaling = _squares_over(singular_values, count)
                scaling = (1 - self.reg_param) * scaling + self.reg_param
                rotation = vectors.T
            else:
                covariance = _shrunk(m.covariance(), self.shrinkage)
                if not np.all(np.isfinite(covariance)):
                    raise _variance_overflow(label)
                values, vectors = linalg.eigh(covariance)
                order = np.argsort(values)[::-1]
                scaling = np.clip(values[order], 0.0, None)
                rotation = largest_positive(vectors[:, order].T).T
            if not np.all(np.isfinite(scaling)):
                raise _variance_overflow(label)
            if np.sum(scaling > self.tol) < n_features:
                if self.solver == "svd" and count <= n_features:
                    raise linalg.LinAlgError(
                        f"The covariance matrix of class {label} is not full rank: "
                        f"with solver='svd' each class needs more samples than "
                        f"features, and class {label} has {int(count)} samples for "
                        f"{n_features} features. Try solver='eigen' with shrinkage."
                    )
                param = "shrinkage" if self.solver == "eigen" else "reg_param"
                raise linalg.LinAlgError(
                    f"The covariance matrix of class {label} is not full rank. "
                    f"Increase the value of `{param}` to reduce the collinearity."
                )
            scalings.append(scaling)
            rotations.append(rotation)
            covariances.append((rotation * scaling) @ rotation.T)
        if self.store_covariance:
            self.covariance_ = covariances
        self.scalings_ = scalings
        self.rotations_ = rotations

    def _decision(self, X):
        norm2 = np.column_stack(
            [
                np.sum(((X - mean) @ (rotation * scaling**-0.5)) ** 2, axis=1)
                for mean, rotation, scaling in zip(
                    self.means_, self.rotations_, self.scalings_, strict=True
                )
            ]
        )
        logdet = np.array([np.sum(np.log(s)) for s in self.scalings_])
        return -0.5 * (norm2 + logdet) + np.log(self.priors_)

    def _binary(self, scores):
        return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores

    def _proba(self, scores):
        likelihood = np.exp(scores - scores.max(axis=1)[:, None])
        return likelihood / likelihood.sum(axis=1)[:, None]
