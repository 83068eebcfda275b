"""Probability distributions fitted exactly from mergeable summaries.

Each distribution summarizes rows into sufficient statistics (``summarize``),
merges them exactly, and takes its maximum-likelihood parameters from them
(``from_summaries``), pomegranate's way; ``fit`` streams a file through the
same steps. They are the components of :class:`~sklearn_ooc.mixture.OOCMixture`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.special import digamma, gammaln, polygamma

from .._engine import Engine
from .._stats import diagonal_moments_of_rows, moments_of_rows
from ..data import BatchSource, open_rows


@dataclass
class _Sums:
    """Weighted count and sums of a few statistics of the rows (per column)."""

    count: int
    weight: float
    sums: np.ndarray

    def scaled(self, factor):
        return _Sums(self.count, self.weight * factor, self.sums * factor)

    def __add__(self, other):
        return _Sums(
            self.count + other.count, self.weight + other.weight, self.sums + other.sums
        )


def _log1p_gap(t):
    """``t - log1p(t)`` (non-negative), to full precision for small ``|t|`` too,
    where the difference would cancel: by its series below 1e-2."""
    scalar = np.ndim(t) == 0
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    out = t - np.log1p(t)
    small = np.abs(t) < 1e-2
    if np.any(small):
        ts = t[small]
        power, total = ts * ts, np.zeros_like(ts)
        for k in range(2, 14):
            total += (power / k) if k % 2 == 0 else -(power / k)
            power = power * ts
        out[small] = total
    return out[0] if scalar else out


def _log_minus_digamma(k):
    """``log k - digamma(k)`` and its derivative ``1/k - trigamma(k)``.

    For large ``k`` both are differences of nearly equal numbers (``log k``
    is 30 where their difference is 1e-13 for data of small relative
    spread): there, their asymptotic series, which have no cancellation.
    """
    if k < 64:
        return np.log(k) - digamma(k), 1 / k - polygamma(1, k)
    u = 1 / k
    u2 = u * u
    value = u * (0.5 + u * (1 / 12 - u2 * (1 / 120 - u2 * (1 / 252 - u2 / 240))))
    slope = -u2 * (0.5 + u * (1 / 6 - u2 * (1 / 30 - u2 * (1 / 42 - u2 / 30))))
    return value, slope


@dataclass
class _RatioSums:
    """Weighted sums of ``d = x / c - 1`` and of ``d - log1p(d)`` about ``c``.

    ``log(mean) - mean(log x)``, the Gamma's sufficient quantity, is then
    ``gap / weight - g(linear / weight)`` with ``g(t) = t - log1p(t)``: no
    logarithm of the reference to cancel, so data of small relative spread
    (far from the origin) keep their digits. A merge restates the other's
    sums about this reference exactly: with ``c' / c = 1 + r``,
    ``d = d'(1 + r) + r`` and ``g(d) = g(d') + g(r) + d' r``.
    """

    count: int
    weight: float
    ref: float
    linear: float
    gap: float

    @classmethod
    def of(cls, x, w):
        ref = float(x[np.argmax(w > 0)]) if x.shape[0] else 1.0
        d = (x - ref) / ref
        return cls(x.shape[0], float(w.sum()), ref, w @ d, w @ _log1p_gap(d))

    def scaled(self, factor):
        return _RatioSums(
            self.count,
            self.weight * factor,
            self.ref,
            self.linear * factor,
            self.gap * factor,
        )

    def log_mean_gap(self):
        """``log(mean x) - mean(log x)``."""
        return self.gap / self.weight - _log1p_gap(self.linear / self.weight)

    def log_mean_gap_error(self):
        """A bound on the rounding error of :meth:`log_mean_gap`."""
        t = self.linear / self.weight
        return (
            64
            * np.finfo(np.float64).eps
            * (abs(self.gap / self.weight) + abs(float(_log1p_gap(t))))
        )

    def mean(self):
        return self.ref * (1 + self.linear / self.weight)

    def __add__(self, other):
        # About the reference of the heavier side: its rows stay near it.
        base, add = (other, self) if other.weight > self.weight else (self, other)
        r = (add.ref - base.ref) / base.ref
        linear = add.linear * (1 + r) + add.weight * r
        gap = add.gap + add.weight * _log1p_gap(r) + add.linear * r
        return _RatioSums(
            self.count + other.count,
            self.weight + other.weight,
            base.ref,
            base.linear + linear,
            base.gap + gap,
        )


class _Counts(_Sums):
    """Weighted counts per category; shorter count vectors are padded."""

    def scaled(self, factor):
        return _Counts(self.count, self.weight * factor, self.sums * factor)

    def __add__(self, other):
        k = max(len(self.sums), len(other.sums))
        sums = np.zeros(k)
        sums[: len(self.sums)] += self.sums
        sums[: len(other.sums)] += other.sums
        return _Counts(self.count + other.count, self.weight + other.weight, sums)


@dataclass
class _Tuple:
    """The statistics of several distributions side by side."""

    parts: tuple

    @property
    def count(self):
        return self.parts[0].count

    @property
    def weight(self):
        return self.parts[0].weight

    def scaled(self, factor):
        return _Tuple(tuple(p.scaled(factor) for p in self.parts))

    def __add__(self, other):
        return _Tuple(
            tuple(a + b for a, b in zip(self.parts, other.parts, strict=True))
        )


def _as_rows(X):
    """2-D float rows from an array, a memory map or a ``.npy`` path."""
    X = open_rows(X, "X")
    if len(X.shape) == 1:
        X = X.reshape(-1, 1)
    return X


def _weights(w, n):
    return np.ones(n) if w is None else np.asarray(w, dtype=np.float64)


class Distribution:
    """Base class: summaries, updates and streamed fits.

    Subclasses define ``_stats(X, w)`` (statistics of rows ``X`` weighted by
    ``w``), ``_update(stats)`` (parameters from merged statistics),
    ``_log_prob(X)`` and ``_sample(n, rng)``, and list their parameters in
    ``_params``.
    """

    _params = ()
    n_columns = 1

    def __init__(self, *args, **params):
        if len(args) > len(self._params):
            raise TypeError(
                f"{type(self).__name__} takes at most {len(self._params)} "
                f"parameters {self._params}"
            )
        params.update(zip(self._params, args, strict=False))
        for name in self._params:
            value = params.pop(name, None)
            setattr(self, name, None if value is None else np.asarray(value, float))
        if params:
            raise TypeError(f"unexpected parameters {sorted(params)}")
        self._pending = None

    # -- pomegranate's API -----------------------------------------------------

    @property
    def fitted(self):
        return all(getattr(self, name) is not None for name in self._params)

    def summarize(self, X, sample_weight=None):
        """Add the statistics of ``X`` to the pending ones."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        self._check(X)
        stats = self._stats(X, _weights(sample_weight, X.shape[0]))
        self._pending = stats if self._pending is None else self._pending + stats
        return self

    def from_summaries(self):
        """Set the parameters from the pending statistics, and clear them."""
        if self._pending is None:
            raise ValueError(
                f"{type(self).__name__} has no pending statistics: call "
                "summarize(X) first"
            )
        self._update_from(self._pending)
        self._pending = None
        return self

    def _update_from(self, stats):
        if not np.sum(stats.weight) > 0:
            raise ValueError(
                f"{type(self).__name__}: the summarized rows have a total weight "
                "of zero; there is nothing to fit"
            )
        self._update(stats)

    def fit(self, X, sample_weight=None, *, batch_size="auto", n_jobs=None):
        """Maximum-likelihood parameters of ``X``, streamed batch by batch.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows (1-D for a univariate distribution).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        batch_size : int or "auto", default="auto"
            Rows per batch.
        n_jobs : int, default=None
            Threads summarizing batches.

        Returns
        -------
        self : Distribution
        """
        source = BatchSource(_as_rows(X), None, sample_weight, batch_size=batch_size)
        for i in range(source.n_batches):
            self._check(source.read(i).X)
        stats = Engine(n_jobs=n_jobs).reduce(
            source,
            range(source.n_batches),
            lambda b: self._stats(
                b.X.astype(np.float64), _weights(b.sample_weight, b.n_samples)
            ),
        )
        self._update_from(stats)
        return self

    def log_probability(self, X):
        """Log density (or mass) of every row of ``X``."""
        if not self.fitted:
            raise ValueError(f"{type(self).__name__} has no parameters: fit it first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1 and self.n_columns == 1:
            X = X.reshape(-1, 1)
        return self._log_prob(X)

    def sample(self, n=1, random_state=None):
        """Draw ``n`` rows."""
        rng = np.random.default_rng(random_state)
        return self._sample(n, rng)

    def get_params(self):
        """The parameters, JSON-able."""
        out = {"class": type(self).__name__}
        for name in self._params:
            value = getattr(self, name)
            out[name] = None if value is None else np.asarray(value).tolist()
        return out

    def to_json(self):
        return json.dumps(self.get_params())

    def __sklearn_clone__(self):
        # A distribution is a parameter of estimators (the components of a
        # mixture, the class models of a Bayes classifier): cloning them
        # copies it whole, parameters set as a start included.
        return copy.deepcopy(self)

    def __repr__(self):
        return json.dumps(self.get_params())

    def _check(self, X):
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{type(self).__name__}: X contains NaN or infinity")


class Normal(Distribution):
    """Univariate normal distribution: ``mean`` and ``std`` (MLE, ``ddof=0``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.distributions import Normal
    >>> X = np.random.default_rng(0).normal(3, 5, size=5000)
    >>> a = Normal().fit(X)
    >>> b = Normal()
    >>> for i in range(5):
    ...     b = b.summarize(X[i * 1000:(i + 1) * 1000])
    >>> b = b.from_summaries()
    >>> bool(abs(a.mean - b.mean) < 1e-14 and abs(a.std - b.std) < 1e-14)
    True
    """

    _params = ("mean", "std")

    def _stats(self, X, w):
        return diagonal_moments_of_rows(X, w)

    def _update(self, stats):
        self.mean = stats.mean[0]
        self.std = np.sqrt(stats.scatter[0] / stats.weight)

    def _log_prob(self, X):
        z = (X[:, 0] - self.mean) / self.std
        return -0.5 * z**2 - np.log(self.std) - 0.5 * np.log(2 * np.pi)

    def _sample(self, n, rng):
        return rng.normal(self.mean, self.std, size=n)


class LogNormal(Normal):
    """Log-normal distribution: the normal of ``log x``."""

    def _check(self, X):
        super()._check(X)
        if np.any(X <= 0):
            raise ValueError("LogNormal: X must be positive")

    def _stats(self, X, w):
        return super()._stats(np.log(X), w)

    def _log_prob(self, X):
        return super()._log_prob(np.log(X)) - np.log(X[:, 0])

    def _sample(self, n, rng):
        return np.exp(super()._sample(n, rng))


class Exponential(Distribution):
    """Exponential distribution: ``rate`` (MLE: one over the mean)."""

    _params = ("rate",)

    def _check(self, X):
        super()._check(X)
        if np.any(X < 0):
            raise ValueError("Exponential: X must be non-negative")

    def _stats(self, X, w):
        return _Sums(X.shape[0], float(w.sum()), np.array([w @ X[:, 0]]))

    def _update(self, stats):
        self.rate = stats.weight / stats.sums[0]

    def _log_prob(self, X):
        return np.log(self.rate) - self.rate * X[:, 0]

    def _sample(self, n, rng):
        return rng.exponential(1.0 / self.rate, size=n)


class Gamma(Distribution):
    """Gamma distribution: ``shape`` and ``rate`` by maximum likelihood.

    The shape solves ``log k - digamma(k) = log(mean) - mean(log x)`` by
    Newton's method from Minka's closed-form start.
    """

    _params = ("shape", "rate")

    def _check(self, X):
        super()._check(X)
        if np.any(X <= 0):
            raise ValueError("Gamma: X must be positive")

    def _stats(self, X, w):
        return _RatioSums.of(X[:, 0], w)

    def _update(self, stats):
        mean = stats.mean()
        s = float(stats.log_mean_gap())
        if not s > stats.log_mean_gap_error():
            # log(mean) - mean(log x) is zero only for equal rows, where the
            # likelihood grows without bound with the shape; below its
            # rounding error it is not known to be positive at all.
            raise ValueError(
                "Gamma: the rows (of non-zero weight) are constant, or too close "
                f"to constant for float64, about {float(mean):.17g}: log(mean) - "
                f"mean(log x) = {s:.3g}, and the maximum-likelihood shape is "
                "infinite or beyond precision. Fit data that vary, or another "
                "distribution"
            )
        k = (3 - s + np.sqrt((s - 3) ** 2 + 24 * s)) / (12 * s)
        for _ in range(100):
            value, slope = _log_minus_digamma(k)
            step = (value - s) / slope
            k_new = k - step
            if k_new <= 0:
                k_new = k / 2
            if abs(k_new - k) <= 1e-15 * k:
                k = k_new
                break
            k = k_new
        self.shape = k
        self.rate = k / mean

    def _log_prob(self, X):
        x = X[:, 0]
        return (
            self.shape * np.log(self.rate)
            - gammaln(self.shape)
            + (self.shape - 1) * np.log(x)
            - self.rate * x
        )

    def _sample(self, n, rng):
        return rng.gamma(self.shape, 1.0 / self.rate, size=n)


class Poisson(Distribution):
    """Poisson distribution: ``lam`` (MLE: the mean)."""

    _params = ("lam",)

    def _check(self, X):
        super()._check(X)
        if np.any(X < 0) or np.any(X != np.round(X)):
            raise ValueError("Poisson: X must hold non-negative integers")

    def _stats(self, X, w):
        return _Sums(X.shape[0], float(w.sum()), np.array([w @ X[:, 0]]))

    def _update(self, stats):
        self.lam = stats.sums[0] / stats.weight

    def _log_prob(self, X):
        x = X[:, 0]
        return x * np.log(self.lam) - self.lam - gammaln(x + 1)

    def _sample(self, n, rng):
        return rng.poisson(self.lam, size=n)


class Bernoulli(Distribution):
    """Bernoulli distribution: ``p`` (MLE: the mean of 0/1 rows)."""

    _params = ("p",)

    def _check(self, X):
        super()._check(X)
        if not np.all((X == 0) | (X == 1)):
            raise ValueError("Bernoulli: X must hold 0 and 1 only")

    def _stats(self, X, w):
        return _Sums(X.shape[0], float(w.sum()), np.array([w @ X[:, 0]]))

    def _update(self, stats):
        self.p = stats.sums[0] / stats.weight

    def _log_prob(self, X):
        x = X[:, 0]
        with np.errstate(divide="ignore"):
            return np.where(x == 1, np.log(self.p), np.log1p(-self.p))

    def _sample(self, n, rng):
        return (rng.random(n) < self.p).astype(np.float64)


class Categorical(Distribution):
    """Categorical distribution over ``0 .. n_categories - 1``: ``probs``.

    Parameters
    ----------
    probs : array-like, default=None
        Probabilities of the categories.
    n_categories : int, default=None
        Number of categories (from ``probs``, or the largest value seen).
    """

    _params = ("probs",)

    def __init__(self, probs=None, n_categories=None):
        super().__init__(probs=probs)
        self.n_categories = (
            n_categories if probs is None else len(np.atleast_1d(self.probs))
        )

    def _check(self, X):
        super()._check(X)
        if np.any(X < 0) or np.any(X != np.round(X)):
            raise ValueError("Categorical: X must hold non-negative integers")

    def _stats(self, X, w):
        k = max(self.n_categories or 0, int(X.max()) + 1 if X.size else 0)
        counts = np.bincount(X[:, 0].astype(np.intp), weights=w, minlength=k)
        return _Counts(X.shape[0], float(w.sum()), counts)

    def _update(self, stats):
        self.probs = stats.sums / stats.weight
        self.n_categories = len(self.probs)

    def _log_prob(self, X):
        x = X[:, 0].astype(np.intp)
        out = np.full(x.shape[0], -np.inf)
        known = (x >= 0) & (x < len(self.probs))
        with np.errstate(divide="ignore"):
            out[known] = np.log(self.probs[x[known]])
        return out

    def _sample(self, n, rng):
        return rng.choice(len(self.probs), size=n, p=self.probs).astype(np.float64)


class MultivariateNormal(Distribution):
    """Multivariate normal distribution: ``mean`` and ``cov`` (MLE).

    Parameters
    ----------
    mean : array-like of shape (n_features,), default=None
    cov : array-like of shape (n_features, n_features), default=None
    min_cov : float, default=0.0
        Added to the diagonal of the fitted covariance.
    """

    _params = ("mean", "cov")

    def __init__(self, mean=None, cov=None, min_cov=0.0):
        super().__init__(mean=mean, cov=cov)
        self.min_cov = float(min_cov)

    @property
    def n_columns(self):
        return None if self.mean is None else len(self.mean)

    def _stats(self, X, w):
        return moments_of_rows(X, sample_weight=w)

    def _update(self, stats):
        self.mean = stats.mean.copy()
        cov = stats.scatter / stats.weight
        cov.flat[:: cov.shape[0] + 1] += self.min_cov
        self.cov = cov

    def _log_prob(self, X):
        chol = linalg.cholesky(self.cov, lower=True)
        z = linalg.solve_triangular(chol, (X - self.mean).T, lower=True)
        log_det = 2 * np.sum(np.log(np.diag(chol)))
        d = len(self.mean)
        return -0.5 * (np.sum(z**2, axis=0) + log_det + d * np.log(2 * np.pi))

    def _sample(self, n, rng):
        return rng.multivariate_normal(self.mean, self.cov, size=n)


class IndependentComponents(Distribution):
    """Independent univariate distributions, one per column.

    Parameters
    ----------
    distributions : list of Distribution
        One univariate distribution per column.
    """

    def __init__(self, distributions):
        self.distributions = list(distributions)
        self._pending = None

    @property
    def n_columns(self):
        return len(self.distributions)

    @property
    def fitted(self):
        return all(d.fitted for d in self.distributions)

    def _check(self, X):
        if X.shape[1] != len(self.distributions):
            raise ValueError(
                f"X has {X.shape[1]} columns for {len(self.distributions)} "
                "distributions"
            )
        for j, d in enumerate(self.distributions):
            d._check(X[:, j : j + 1])

    def _stats(self, X, w):
        return _Tuple(
            tuple(
                d._stats(X[:, j : j + 1], w) for j, d in enumerate(self.distributions)
            )
        )

    def _update(self, stats):
        for d, part in zip(self.distributions, stats.parts, strict=True):
            d._update(part)

    def _log_prob(self, X):
        return sum(
            d._log_prob(X[:, j : j + 1]) for j, d in enumerate(self.distributions)
        )

    def _sample(self, n, rng):
        return np.column_stack([d._sample(n, rng) for d in self.distributions])

    def get_params(self):
        return {
            "class": type(self).__name__,
            "distributions": [d.get_params() for d in self.distributions],
        }
