"""Variational Bayesian Gaussian mixtures from the Gaussian mixture's statistics.

scikit-learn's ``BayesianGaussianMixture`` alternates an E-step, whose
responsibilities come from Gaussian log-densities plus per-component
constants (expected log weights and log precision determinants), and an
M-step whose inputs are the counts, means and covariances of the components
under those responsibilities: the statistics of :class:`OOCGaussianMixture`'s
pass. The variational updates of the posteriors are then closed forms in
them, computed by scikit-learn's own methods; the lower bound's entropy term
is a quadratic form in the same statistics.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy.special import betaln, digamma
from sklearn.mixture import BayesianGaussianMixture
from sklearn.mixture._bayesian_mixture import _log_dirichlet_norm, _log_wishart_norm
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions

from .._out_of_core import register
from .._stats import moments_of_rows
from ..base import IterativeMixin
from ._gaussian_mixture import (
    OOCGaussianMixture,
    _estimate_parameters,
    _log_det_cholesky,
    _pass_constants,
)


def _never(estimator):
    return False


def _expected_mahalanobis(moments, means, factors, covariance_type):
    """``sum_i r_ik (x_i - mu_k)^T P_k (x_i - mu_k)`` for every component,
    from the weighted moments of its rows (``P_k = U_k U_k^T``)."""
    delta = moments.mean - means
    if covariance_type in ("diag", "spherical"):
        precisions = factors**2
        if covariance_type == "spherical":
            precisions = precisions[:, None]
        spread = moments.scatter + moments.weight[:, None] * delta**2
        return np.sum(precisions * spread, axis=1)
    stack = factors[None] if covariance_type == "tied" else factors
    stack = np.broadcast_to(stack, (means.shape[0],) + stack.shape[1:])
    precisions = stack @ np.transpose(stack, (0, 2, 1))
    trace = np.einsum("kij,kji->k", precisions, moments.scatter)
    quadratic = np.einsum("ki,kij,kj->k", delta, precisions, delta)
    return trace + moments.weight * quadratic


@register(BayesianGaussianMixture)
class OOCBayesianGaussianMixture(OOCGaussianMixture):
    """Variational Bayesian Gaussian mixture fitted over data read one batch
    at a time.

    The model, parameters and methods of
    :class:`sklearn.mixture.BayesianGaussianMixture`: each variational EM
    iteration is one pass over the batches, in which the kernels of
    :class:`OOCGaussianMixture` compute the responsibilities (under the
    expected log weights and precisions of the current posteriors) and the
    counts, means and scatters of every component; scikit-learn's own
    updates turn them into the new posteriors. The lower bound is
    scikit-learn's, its entropy term computed from the same statistics. From
    the same initialization, the fit reaches scikit-learn's posteriors and
    ``lower_bound_`` after the same iterations, whatever ``batch_size`` and
    ``n_jobs`` are. The priors left to their defaults (the mean and
    covariance of the data) take one more pass.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components (an upper bound: the posterior may
        leave some of them empty).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The form of the components' covariances.
    tol : float, default=1e-3
        The iterations stop when the lower bound gains less than this.
    reg_covar : float, default=1e-6
        Added to the diagonal of the covariances.
    max_iter : int, default=100
        Iterations (passes) at most.
    n_init : int, default=1
        Initializations; the best lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
            'first-k'}, default='kmeans'
        How the responsibilities start (as :class:`OOCGaussianMixture`:
        ``'kmeans'`` and ``'k-means++'`` on a sample of ``init_size`` rows).
    weight_concentration_prior_type : {'dirichlet_process', \
            'dirichlet_distribution'}, default='dirichlet_process'
        The prior on the weights.
    weight_concentration_prior : float, default=None
        The concentration of the weights' prior; ``None`` is
        ``1 / n_components``.
    mean_precision_prior : float, default=None
        The precision prior of the means; ``None`` is 1.
    mean_prior : array-like of shape (n_features,), default=None
        The prior of the means; ``None`` is the mean of the data.
    degrees_of_freedom_prior : float, default=None
        The prior of the degrees of freedom of the precisions' Wishart
        distributions; ``None`` is ``n_features``.
    covariance_prior : float or array-like, default=None
        The prior of the covariances; ``None`` is the data's (unbiased)
        covariance, in the form of ``covariance_type``.
    random_state : int, RandomState instance or None, default=None
        The seed of the initialization.
    warm_start : bool, default=False
        Start from the previous fit's posteriors.
    verbose : int, default=0
        1 prints a line per iteration; 2 adds a progress bar over batches.
    verbose_interval : int, default=10
        Iterations between verbose lines.
    init_size : int, default=None
        Rows of the sample the k-means initializations work on; ``None`` is
        100,000 (all rows of smaller data).
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.
    n_jobs : int, default=None
        Threads summarizing batches in parallel; the result is bitwise the
        same for every value.
    checkpoint : str or os.PathLike, default=None
        A file where the fit saves its state after every iteration, and from
        which a fit of the same data resumes.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The expected weights of the components.
    means_ : ndarray of shape (n_components, n_features)
        The means of the means' posteriors.
    covariances_ : ndarray
        The covariances (of the form of ``covariance_type``).
    precisions_ : ndarray
        Their inverses.
    precisions_cholesky_ : ndarray
        The Cholesky factors of the precisions.
    weight_concentration_ : ndarray or tuple of ndarrays
        The posterior concentrations of the weights.
    mean_precision_ : ndarray of shape (n_components,)
        The posterior precisions of the means.
    degrees_of_freedom_ : ndarray of shape (n_components,)
        The posterior degrees of freedom.
    weight_concentration_prior_, mean_precision_prior_, mean_prior_, \
    degrees_of_freedom_prior_, covariance_prior_ : float or ndarray
        The priors used.
    converged_ : bool
        Whether the best initialization converged.
    n_iter_ : int
        Iterations of the best initialization.
    lower_bound_ : float
        The lower bound of the best initialization.
    lower_bounds_ : list of float
        Its lower bound after every iteration.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.mixture.BayesianGaussianMixture : The in-memory estimator this
        one equals.
    OOCGaussianMixture : The maximum-likelihood mixture.

    Notes
    -----
    Memory: a batch of rows per thread and the components' statistics. The
    stepwise updates of :class:`OOCGaussianMixture` (``partial_fit``,
    ``batches_per_epoch``) weight rows by fractions, where a variational
    posterior needs counts: they are not offered here. ``summarize`` over
    slices of the data then ``from_summaries()`` is one exact iteration.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.mixture import OOCBayesianGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-5, 1, (500, 2)), rng.normal(5, 1, (500, 2))])
    >>> bgm = OOCBayesianGaussianMixture(n_components=4, random_state=0)
    >>> bgm = bgm.fit(X, batch_size=100)
    >>> int(np.sum(bgm.weights_ > 0.1))
    2
    """

    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in OOCGaussianMixture._parameter_constraints.items()
            if k
            not in (
                "weights_init",
                "means_init",
                "precisions_init",
                "decay",
                "batches_per_epoch",
            )
        },
        "weight_concentration_prior_type": [
            StrOptions({"dirichlet_process", "dirichlet_distribution"})
        ],
        "weight_concentration_prior": [
            None,
            Interval(Real, 0.0, None, closed="neither"),
        ],
        "mean_precision_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_prior": [None, "array-like"],
        "degrees_of_freedom_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "covariance_prior": [
            None,
            "array-like",
            Interval(Real, 0.0, None, closed="neither"),
        ],
    }

    _objective_after_update = True
    _objective_per_row = False
    _objective_name = "Lower bound"

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        init_size=None,
        batch_size="auto",
        n_jobs=None,
        checkpoint=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.init_size = init_size
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.checkpoint = checkpoint

    # The stepwise updates weight rows by fractions (see Notes).
    partial_fit = available_if(_never)(IterativeMixin.partial_fit)
    bic = available_if(_never)(OOCGaussianMixture.bic)
    aic = available_if(_never)(OOCGaussianMixture.aic)

    def fit(self, X, y=None, *, batch_size=None):
        """Fit the model by variational EM, one pass over ``X`` per iteration.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
                shape (n_samples, n_features)
            Training rows, read one batch at a time.
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit_iterations(X, None, None, batch_size, None)

    # -- priors ---------------------------------------------------------------

    def _calculator(self):
        """A scikit-learn model holding the priors, whose methods compute the
        variational updates (its arithmetic, operation for operation)."""
        calculator = BayesianGaussianMixture(
            n_components=self.n_components,
            covariance_type=self.covariance_type,
            reg_covar=self.reg_covar,
            weight_concentration_prior_type=self.weight_concentration_prior_type,
        )
        for name in (
            "weight_concentration_prior_",
            "mean_precision_prior_",
            "mean_prior_",
            "degrees_of_freedom_prior_",
            "covariance_prior_",
        ):
            setattr(calculator, name, getattr(self, name))
        return calculator

    def _check_source(self, source):
        super()._check_source(source)
        d = source.n_features
        checker = BayesianGaussianMixture(
            **{
                name: getattr(self, name)
                for name in (
                    "n_components",
                    "covariance_type",
                    "weight_concentration_prior",
                    "mean_precision_prior",
                    "mean_prior",
                    "degrees_of_freedom_prior",
                    "covariance_prior",
                )
            }
        )
        # scikit-learn's checks of the priors given, on rows of the right
        # width; the defaults that depend on the data come from a pass.
        checker._check_parameters(np.zeros((2, d)))
        for name in (
            "weight_concentration_prior_",
            "mean_precision_prior_",
            "mean_prior_",
            "degrees_of_freedom_prior_",
            "covariance_prior_",
        ):
            setattr(self, name, getattr(checker, name))
        if self.mean_prior is None or self.covariance_prior is None:
            data = self._reduce_with(
                source, lambda b: moments_of_rows(b.X, workspace=b.workspace)
            )
            if self.mean_prior is None:
                self.mean_prior_ = data.mean.copy()
            if self.covariance_prior is None:
                covariance = data.scatter / (data.count - 1)
                self.covariance_prior_ = {
                    "full": np.atleast_2d(covariance),
                    "tied": np.atleast_2d(covariance),
                    "diag": np.diagonal(covariance).copy(),
                    "spherical": np.diagonal(covariance).mean(),
                }[self.covariance_type]

    # -- updates --------------------------------------------------------------

    def _variational_update(self, nk, xk, sk):
        calculator = self._calculator()
        calculator._estimate_weights(nk)
        calculator._estimate_means(nk, xk)
        calculator._estimate_precisions(nk, xk, sk)
        self._set_parameters(calculator._get_parameters())

    def _initialize(self, source, random_state):
        self._variational_update(*self._initial_estimate(source, random_state))

    def _prepare_pass(self):
        super()._prepare_pass()
        # The posteriors the pass's responsibilities come from (the entropy
        # of the lower bound is theirs).
        self._pass_parameters = self._get_parameters()

    def _from_summaries(self, stats):
        self._variational_update(
            *_estimate_parameters(stats.moments, self.reg_covar, self.covariance_type)
        )

    def _log_weights_and_constants(self, params):
        """The per-component constants of the E-step: expected log weights,
        less the normalization of the precisions and its expectation."""
        concentration, mean_precision, means, dof, _, _ = params
        d = means.shape[1]
        if self.weight_concentration_prior_type == "dirichlet_process":
            a, b = concentration
            digamma_sum = digamma(a + b)
            log_weights = (
                digamma(a)
                - digamma_sum
                + np.hstack((0, np.cumsum(digamma(b) - digamma_sum)[:-1]))
            )
        else:
            log_weights = digamma(concentration) - digamma(np.sum(concentration))
        log_lambda = d * np.log(2.0) + np.sum(
            digamma(0.5 * (dof - np.arange(0, d)[:, np.newaxis])), 0
        )
        return (
            log_weights
            - 0.5 * d * np.log(dof)
            + 0.5 * (log_lambda - d / mean_precision)
        )

    def _constants(self):
        params = self._get_parameters()
        _, _, means, _, _, factors = params
        k = means.shape[0]
        constants = _pass_constants(np.ones(k), means, factors, self.covariance_type)
        constants.log_const[:] += self._log_weights_and_constants(params)
        return constants

    def _objective(self, stats):
        """scikit-learn's lower bound: the entropy of the pass's
        responsibilities (under the previous posteriors) and the normalizers
        of the new ones."""
        _, _, means, _, _, factors = self._pass_parameters
        d = means.shape[1]
        log_const = self._pass_constants.log_const
        mahalanobis = _expected_mahalanobis(
            stats.moments, means, factors, self.covariance_type
        )
        # -sum r log r = sum_i logsumexp_i - sum_ik r_ik log p_ik.
        expected = np.sum(stats.moments.weight * log_const - 0.5 * mahalanobis)
        entropy = stats.log_likelihood - expected
        concentration, mean_precision, _, dof, _, new_factors = self._get_parameters()
        log_det = _log_det_cholesky(
            new_factors, self.covariance_type, d
        ) - 0.5 * d * np.log(dof)
        if self.covariance_type == "tied":
            # One Wishart shared by the components (scikit-learn's scalar).
            log_wishart = (
                self.n_components * np.ravel(_log_wishart_norm(dof, log_det, d))[0]
            )
        else:
            log_wishart = np.sum(_log_wishart_norm(dof, log_det, d))
        if self.weight_concentration_prior_type == "dirichlet_process":
            log_norm_weight = -np.sum(betaln(concentration[0], concentration[1]))
        else:
            log_norm_weight = _log_dirichlet_norm(concentration)
        return float(
            entropy
            - log_wishart
            - log_norm_weight
            - 0.5 * d * np.sum(np.log(mean_precision))
        )

    # -- parameters -----------------------------------------------------------

    def _get_parameters(self):
        return self._parameters

    def _set_parameters(self, params):
        concentration, mean_precision, means, dof, covariances, factors = params
        self._parameters = params
        if self.weight_concentration_prior_type == "dirichlet_process":
            total = concentration[0] + concentration[1]
            tail = concentration[1] / total
            weights = concentration[0] / total * np.hstack((1, np.cumprod(tail[:-1])))
            weights = weights / np.sum(weights)
        else:
            weights = concentration / np.sum(concentration)
        if self.covariance_type == "full":
            precisions = factors @ np.transpose(factors, (0, 2, 1))
        elif self.covariance_type == "tied":
            precisions = factors @ factors.T
        else:
            precisions = factors**2
        dtype = getattr(self, "_fitted_dtype", np.float64)
        self.weight_concentration_ = concentration
        self.mean_precision_ = mean_precision
        self.degrees_of_freedom_ = dof
        self.weights_ = weights.astype(dtype, copy=False)
        self.means_ = means.astype(dtype, copy=False)
        self.covariances_ = covariances.astype(dtype, copy=False)
        self.precisions_cholesky_ = factors.astype(dtype, copy=False)
        self.precisions_ = precisions.astype(dtype, copy=False)
