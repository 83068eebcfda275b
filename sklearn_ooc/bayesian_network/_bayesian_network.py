"""Bayesian networks over discrete variables, from counts streamed in passes."""

from __future__ import annotations

import itertools
import os
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._kernels import best_network_order, best_parent_sets, count_families
from ..base import OutOfCoreMixin

# Cells of all the count tables a structure search may gather in one pass.
_MAX_CELLS = 50_000_000
# Variables of the exact search (its tables hold 2**(d - 1) scores a
# variable), and the joint values it counts in one table when they are few.
_MAX_EXACT = 20
_JOINT_CELLS = 1 << 22
# Missing values a row may have for inference: numpy's einsum names the
# axes it contracts with at most 52 labels.
_MAX_MISSING = 52


class FamilyCounts(dict):
    """Weighted counts of the joint values of families of variables, by
    family (a tuple: the child first, then its parents in order); merging
    adds them family by family."""

    def __add__(self, other):
        out = FamilyCounts(self)
        for key, value in other.items():
            out[key] = out[key] + value if key in out else value
        return out


def _table_size(family, cardinalities):
    return int(np.prod([cardinalities[v] for v in family], dtype=np.int64))


def _family_loglik(counts, child_card):
    """Log-likelihood of the child given its parents at their MLE, from the
    family's counts (child the first axis of the flat code's digits)."""
    table = counts.reshape(child_card, -1)
    parents = table.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(table > 0, table * np.log(table / parents), 0.0)
    return float(terms.sum())


def _bic(counts, family, cardinalities, n):
    """BIC of a family: its log-likelihood less half log(n) per free
    parameter."""
    child = family[0]
    q = _table_size(family[1:], cardinalities)
    penalty = 0.5 * np.log(n) * (cardinalities[child] - 1) * q
    return _family_loglik(counts, cardinalities[child]) - penalty


def _marginal(table, family):
    """The counts of ``family`` (child first, then its parents: the child's
    value the most significant digit of a cell's index, as
    :func:`~sklearn_ooc._kernels.count_families` orders them) summed from
    the joint ``table``."""
    others = tuple(a for a in range(table.ndim) if a not in family)
    summed = table.sum(axis=others) if others else table
    kept = sorted(family)
    return np.transpose(summed, [kept.index(v) for v in family]).ravel()


def _has_cycle(parents):
    """Whether the parent sets make a directed cycle; the cycle if so."""
    state = {}

    def visit(v, path):
        state[v] = 1
        for p in parents[v]:
            if state.get(p) == 1:
                return path[path.index(p) :] + [p] if p in path else [p, v]
            if state.get(p) is None:
                found = visit(p, path + [p])
                if found:
                    return found
        state[v] = 2
        return None

    for v in range(len(parents)):
        if state.get(v) is None:
            found = visit(v, [v])
            if found:
                return found
    return None


def _reaches(parents, start, target):
    """Whether ``target`` is an ancestor of ``start`` (following parents)."""
    stack, seen = [start], set()
    while stack:
        v = stack.pop()
        if v == target:
            return True
        if v in seen:
            continue
        seen.add(v)
        stack.extend(parents[v])
    return False


class BayesianNetwork(OutOfCoreMixin, BaseEstimator):
    """A Bayesian network over discrete variables, learnt from streamed counts.

    pomegranate's ``BayesianNetwork``: each variable has a conditional
    probability table given its parents. The tables are counts normalized,
    gathered in one pass over the rows; a structure is either given or
    learnt from counts gathered in streamed passes, never from rows held in
    memory: a Chow-Liu tree (all pairwise counts in one pass, the maximum
    spanning tree of the mutual information), greedy hill climbing on BIC
    (each round counts every candidate family in one pass), or an exact
    search of the BIC-best network (one pass counting every family of at
    most ``max_parents`` parents, then dynamic programming over the
    subsets of variables, for up to 20 variables).

    Parameters
    ----------
    structure : tuple of tuples, default=None
        For each variable, the tuple of its parents' indices (pomegranate's
        convention); ``None``: learnt by ``algorithm``.
    algorithm : {"chow-liu", "hill-climb", "exact"}, default="chow-liu"
        How the structure is learnt when none is given.
    max_parents : int, default=3
        Parents a variable may have in "hill-climb" and "exact".
    pseudocount : float, default=0.0
        Added to every count before the tables are normalized.
    n_categories : int or array-like of int, default=None
        Categories of each variable; ``None``: one more than its largest
        value in the data.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches counted in parallel (the same counts for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    structure_ : tuple of tuples
        For each variable, its parents' indices.
    probabilities_ : list of ndarray
        For each variable, its table: axes the parents' values in the order
        of ``structure_``, then its own values (the last axis sums to 1).
    n_categories_ : ndarray of int
        Categories of each variable.
    n_passes_ : int
        Passes over the data the fit made.
    n_features_in_ : int
        Number of variables seen during fit.

    Notes
    -----
    The rows hold category codes 0, 1, ... of every variable; ``-1`` marks a
    missing value for :meth:`predict_proba` and :meth:`predict`, whose
    exact inference is variable elimination (networks of modest width, up
    to 52 missing values a row).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.bayesian_network import BayesianNetwork
    >>> rng = np.random.RandomState(0)
    >>> a = rng.randint(2, size=1000)
    >>> b = np.where(rng.rand(1000) < 0.9, a, 1 - a)
    >>> c = rng.randint(3, size=1000)
    >>> net = BayesianNetwork(batch_size=256).fit(np.column_stack([a, b, c]))
    >>> net.structure_[1]
    (0,)
    >>> net.predict([[1, -1, 0]])
    array([[1, 1, 0]])
    """

    _parameter_constraints: dict = {
        "structure": [tuple, list, None],
        "algorithm": [StrOptions({"chow-liu", "hill-climb", "exact"})],
        "max_parents": [Interval(Integral, 0, None, closed="left")],
        "pseudocount": [Interval(Real, 0, None, closed="left")],
        "n_categories": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    _accept_sparse = False

    def __init__(
        self,
        structure=None,
        *,
        algorithm="chow-liu",
        max_parents=3,
        pseudocount=0.0,
        n_categories=None,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.structure = structure
        self.algorithm = algorithm
        self.max_parents = max_parents
        self.pseudocount = pseudocount
        self.n_categories = n_categories
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- the data -------------------------------------------------------------------

    def _check_rows(self, X, batch, missing=False):
        """The rows as integer codes; an error naming the first bad value."""
        codes = X.astype(np.int64)
        low = -1 if missing else 0
        bad = (X != codes) | (codes < low)
        if self.__dict__.get("_cards") is not None:
            bad |= codes >= self._cards
        rows = np.flatnonzero(bad.any(axis=1))
        if rows.size:
            row = int(rows[0])
            column = int(np.flatnonzero(bad[row])[0])
            what = (
                f"beyond its {int(self._cards[column])} categories"
                if self.__dict__.get("_cards") is not None
                and X[row, column] == codes[row, column]
                and codes[row, column] >= 0
                else "not a category code (an integer from 0)"
            )
            value = X[row, column]
            shown = int(value) if value == int(value) else value
            raise ValueError(
                f"Input X at row {batch.start + row} (batch {batch.index}, rows "
                f"{batch.start}-{batch.stop - 1}), variable {column}: "
                f"{shown} is {what}"
            )
        return codes

    def _count(self, source, families, desc):
        """Counts of ``families`` in one pass."""
        cards = self._cards

        width = max(len(f) for f in families) if families else 1
        members = np.full((len(families), width), -1, dtype=np.int64)
        radices = np.ones((len(families), width), dtype=np.int64)
        for f, family in enumerate(families):
            members[f, : len(family)] = family
            radices[f, : len(family)] = [cards[v] for v in family]
        sizes = [_table_size(family, cards) for family in families]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

        def summarize(batch):
            X = self._check_rows(batch.X, batch)
            w = batch.sample_weight
            cells = np.zeros(int(offsets[-1]))
            # Every family in one sweep of the rows, each row's codes read
            # once (a table per family would read them once a family).
            count_families(
                X,
                members,
                radices,
                offsets,
                np.empty(0) if w is None else np.asarray(w, dtype=np.float64),
                cells,
            )
            return FamilyCounts(
                {
                    family: cells[offsets[f] : offsets[f + 1]]
                    for f, family in enumerate(families)
                }
            )

        self.n_passes_ += 1
        counts = self._reduce(source, desc=desc, summarize=summarize)
        return counts if counts is not None else FamilyCounts()

    # -- fitting --------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None, *, batch_size=None):
        """Learn the structure (unless given) and the tables.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or table of shape \
                (n_samples, n_variables)
            Category codes of every variable.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
        """
        with self._transaction():
            self.__dict__.pop("_cards", None)
            self.n_passes_ = 0
            source = self._source(
                X, None, sample_weight, reset=True, batch_size=batch_size
            )
            d = source.n_features
            self._cards = self._categories(source, d)
            structure = self.structure
            if structure is not None:
                structure = self._checked_structure(structure, d)
            elif self.algorithm == "chow-liu":
                structure = self._chow_liu(source, d)
            elif self.algorithm == "hill-climb":
                structure = self._hill_climb(source, d)
            else:
                structure = self._exact(source, d)
            families = [(v,) + tuple(structure[v]) for v in range(d)]
            counts = self._count(source, families, "tables")
            self.structure_ = tuple(tuple(int(p) for p in ps) for ps in structure)
            self.probabilities_ = [self._table(counts[f], f) for f in families]
            self.n_categories_ = self._cards.copy()
            self._is_fitted = True
        return self

    def _categories(self, source, d):
        if self.n_categories is not None:
            cards = np.broadcast_to(np.asarray(self.n_categories, dtype=np.int64), (d,))
            return np.array(cards)
        self.n_passes_ += 1
        largest = self._reduce(
            source,
            desc="categories",
            summarize=lambda b: _ColumnMax(self._check_rows(b.X, b).max(axis=0)),
        )
        return np.asarray(largest.value, dtype=np.int64) + 1

    def _checked_structure(self, structure, d):
        if len(structure) != d:
            raise ValueError(
                f"structure gives parents for {len(structure)} variables; X has {d}"
            )
        parents = [tuple(int(p) for p in ps) for ps in structure]
        for v, ps in enumerate(parents):
            for p in ps:
                if not 0 <= p < d or p == v:
                    raise ValueError(
                        f"structure: variable {v} has parent {p}, which is not "
                        f"another of the {d} variables"
                    )
        cycle = _has_cycle(parents)
        if cycle:
            raise ValueError(
                "structure has a cycle: "
                + " -> ".join(str(v) for v in reversed(cycle))
                + "; a Bayesian network is acyclic"
            )
        return parents

    def _table(self, counts, family):
        """The table of a family's child given its parents, parents first."""
        cards = self._cards
        child, parents = family[0], family[1:]
        shape = (cards[child],) + tuple(cards[p] for p in parents)
        table = np.moveaxis(counts.reshape(shape), 0, -1) + self.pseudocount
        total = table.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, table / np.where(total > 0, total, 1), 0.0)

    def _total(self, counts):
        return float(next(iter(counts.values())).sum())

    def _pair_counts(self, source, pairs):
        """The joint counts of every pair in one pass, as the Gram matrix of
        the rows' one-hot codes (one matrix product a batch)."""
        cards = self._cards
        starts = np.concatenate([[0], np.cumsum(cards)]).astype(np.int64)

        width = int(starts[-1])
        # Rows of one-hot codes at a time: about 32 MB of them.
        step = max(1, (4 << 20) // width)

        def summarize(batch):
            X = self._check_rows(batch.X, batch)
            w = batch.sample_weight
            gram = np.zeros((width, width))
            for a in range(0, X.shape[0], step):
                block = X[a : a + step]
                onehot = np.zeros((block.shape[0], width))
                rows = np.arange(block.shape[0])
                for v in range(block.shape[1]):
                    onehot[rows, starts[v] + block[:, v]] = 1.0
                weighted = onehot if w is None else onehot * w[a : a + step, None]
                gram += weighted.T @ onehot
            return gram

        self.n_passes_ += 1
        gram = self._reduce(source, desc="pairs", summarize=summarize)
        return FamilyCounts(
            {
                (i, j): gram[starts[i] : starts[i + 1], starts[j] : starts[j + 1]]
                .ravel()
                .copy()
                for i, j in pairs
            }
        )

    def _chow_liu(self, source, d):
        cards = self._cards
        pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
        self._check_cells(pairs)
        counts = FamilyCounts()
        if pairs:
            counts = self._pair_counts(source, pairs)
        weight = np.zeros((d, d))
        for i, j in pairs:
            joint = counts[(i, j)].reshape(cards[i], cards[j])
            n = joint.sum()
            pi, pj = joint.sum(axis=1), joint.sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.where(
                    joint > 0, joint * np.log(joint * n / np.outer(pi, pj)), 0.0
                )
            weight[i, j] = weight[j, i] = terms.sum() / n
        # Prim's maximum spanning tree from variable 0; ties go to the
        # lowest indices.
        parents = [() for _ in range(d)]
        in_tree = np.zeros(d, dtype=bool)
        in_tree[0] = True if d else False
        best = np.full(d, -np.inf)
        link = np.zeros(d, dtype=np.int64)
        if d:
            best[:] = weight[0]
        for _ in range(d - 1):
            candidates = np.where(in_tree, -np.inf, best)
            v = int(np.argmax(candidates))
            parents[v] = (int(link[v]),)
            in_tree[v] = True
            better = (weight[v] > best) & ~in_tree
            best = np.where(better, weight[v], best)
            link = np.where(better, v, link)
        return parents

    def _check_cells(self, families):
        cells = sum(_table_size(f, self._cards) for f in families)
        if cells > _MAX_CELLS:
            raise ValueError(
                f"the counts of this search would hold {cells:,} cells (more than "
                f"{_MAX_CELLS:,}): lower max_parents, or give the structure"
            )

    def _hill_climb(self, source, d):
        cards = self._cards
        parents = [() for _ in range(d)]
        known = FamilyCounts()
        n = None
        while True:
            moves = []
            for u in range(d):
                for v in range(d):
                    if u == v:
                        continue
                    if u in parents[v]:
                        removed = tuple(p for p in parents[v] if p != u)
                        moves.append(("remove", u, v, {v: removed}))
                        if len(parents[u]) < self.max_parents:
                            flipped = {v: removed, u: tuple(sorted(parents[u] + (v,)))}
                            moves.append(("reverse", u, v, flipped))
                    elif len(parents[v]) < self.max_parents:
                        moves.append(
                            ("add", u, v, {v: tuple(sorted(parents[v] + (u,)))})
                        )
            needed = {(v,) + parents[v] for v in range(d)}
            for *_, change in moves:
                needed.update((w,) + ps for w, ps in change.items())
            missing = [f for f in sorted(needed) if f not in known]
            if missing:
                self._check_cells(missing)
                known = known + self._count(source, missing, "hill climbing")
            if n is None:
                n = self._total(known)
            current = {
                v: _bic(known[(v,) + parents[v]], (v,) + parents[v], cards, n)
                for v in range(d)
            }
            best, chosen = 1e-9, None
            for kind, u, v, change in moves:
                trial = list(parents)
                for w, ps in change.items():
                    trial[w] = ps
                if kind != "remove" and _reaches(trial, u, v):
                    continue
                gain = sum(
                    _bic(known[(w,) + ps], (w,) + ps, cards, n) - current[w]
                    for w, ps in change.items()
                )
                if gain > best:
                    best, chosen = gain, trial
            if chosen is None:
                return parents
            parents = chosen

    def _exact(self, source, d):
        if d > _MAX_EXACT:
            raise ValueError(
                f"the exact search is over the 2**{d} subsets of {d} variables: "
                f"use algorithm='hill-climb' or 'chow-liu' beyond {_MAX_EXACT} "
                "variables"
            )
        cards = self._cards
        k = min(self.max_parents, d - 1)
        families = [
            (v,) + ps
            for v in range(d)
            for size in range(k + 1)
            for ps in itertools.combinations([u for u in range(d) if u != v], size)
        ]
        everything = tuple(range(d))
        if _table_size(everything, cards) <= _JOINT_CELLS:
            # One table of every joint value: each family's counts are its
            # sums, whatever the number of families.
            joint = self._count(source, [everything], "joint values")[everything]
            table = joint.reshape(tuple(int(c) for c in cards))
            counts = {f: _marginal(table, f) for f in families}
        else:
            self._check_cells(families)
            counts = self._count(source, families, "families")
        n = self._total(counts)
        # The best parents of v within every set of the others, then the
        # best network on every subset (Silander and Myllymaki), over the
        # bit masks of the variables.
        parent_scores = np.empty((d, 1 << (d - 1)))
        chosen = []
        for v in range(d):
            others = [u for u in range(d) if u != v]
            local = np.full(1 << (d - 1), -np.inf)
            for size in range(k + 1):
                for bits in itertools.combinations(range(d - 1), size):
                    family = (v,) + tuple(others[b] for b in bits)
                    local[sum(1 << b for b in bits)] = _bic(
                        counts[family], family, cards, n
                    )
            parent_scores[v], best = best_parent_sets(local)
            chosen.append(best)
        sink = best_network_order(parent_scores)
        parents = [() for _ in range(d)]
        mask = (1 << d) - 1
        while mask:
            v = int(sink[mask])
            rest = mask & ~(1 << v)
            others = [u for u in range(d) if u != v]
            index = (rest & ((1 << v) - 1)) | ((rest >> (v + 1)) << v)
            picked = int(chosen[v][index])
            parents[v] = tuple(others[b] for b in range(d - 1) if picked >> b & 1)
            mask = rest
        return parents

    # -- the fitted network ----------------------------------------------------------

    def _log_joint(self, codes):
        """Log-probability of complete rows of codes."""
        total = np.zeros(codes.shape[0])
        with np.errstate(divide="ignore"):
            for v, parents in enumerate(self.structure_):
                index = tuple(codes[:, p] for p in parents) + (codes[:, v],)
                total += np.log(self.probabilities_[v][index])
        return total

    def log_probability(self, X):
        """Log-probability of every complete row, streamed.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_variables)
            Category codes.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self._map_rows(
            X, lambda b: self._log_joint(self._check_rows(b.X, b)), desc="score"
        )

    def score_samples(self, X):
        """Log-probability of every complete row (:meth:`log_probability`).

        Parameters
        ----------
        X : ndarray, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_variables)
            Category codes.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        return self.log_probability(X)

    def score(self, X, y=None):
        """Mean log-probability of the rows.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_variables)
            Category codes.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.log_probability(X)))

    def _posteriors(self, codes):
        """For each row, each missing variable's posterior over its values,
        by variable elimination.

        The tables are restricted to the row's observed values; those left
        with no missing variable are constants, which no posterior depends
        on. Each missing variable's marginal is the sum over the others of
        the product of the remaining tables: :func:`numpy.einsum` contracts
        them in a greedy elimination order (computed once per pattern of
        missing variables), so the cost grows with the width of the network
        restricted to the missing variables, not with the number of their
        joint values.
        """
        out = []
        orders = {}
        for row in codes:
            missing = np.flatnonzero(row < 0)
            if not missing.size:
                out.append({})
                continue
            if missing.size > _MAX_MISSING:
                raise ValueError(
                    f"row {row.tolist()} has {missing.size} missing values; "
                    f"inference takes at most {_MAX_MISSING} missing values a row"
                )
            label = {int(v): i for i, v in enumerate(missing)}
            operands = []
            for v, parents in enumerate(self.structure_):
                family = (*parents, v)
                free = [label[u] for u in family if u in label]
                if not free:
                    continue
                index = tuple(slice(None) if u in label else row[u] for u in family)
                table = self.probabilities_[v][index]
                top = table.max()
                # Scaled by a constant (no posterior changes): the products
                # of many small tables do not underflow.
                operands += [table / top if top > 0 else table, free]
            posts = {}
            for v, i in label.items():
                key = (tuple(missing), v)
                if key not in orders:
                    orders[key] = np.einsum_path(*operands, [i], optimize="greedy")[0]
                p = np.einsum(*operands, [i], optimize=orders[key])
                total = p.sum()
                if not total > 0:
                    raise ValueError(
                        f"the observed values of row {row.tolist()} have "
                        "probability zero under the network: no posterior exists"
                    )
                posts[v] = p / total
            out.append(posts)
        return out

    def predict_proba(self, X):
        """Posterior of every missing value (``-1``) given the row's others.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_variables)
            Category codes, ``-1`` where missing.

        Returns
        -------
        list of ndarray
            For each variable, an array of shape (n_samples, its categories):
            the posterior where the value is missing, a one-hot row where it
            is observed.
        """
        check_is_fitted(self)
        codes = self._codes_of(X)
        posteriors = self._posteriors(codes)
        out = []
        for v, c in enumerate(self.n_categories_):
            table = np.zeros((len(codes), c))
            for i, (row, post) in enumerate(zip(codes, posteriors, strict=True)):
                if row[v] >= 0:
                    table[i, row[v]] = 1.0
                else:
                    table[i] = post[v]
            out.append(table)
        return out

    def predict(self, X):
        """Every missing value (``-1``) replaced by its most probable value.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_variables)
            Category codes, ``-1`` where missing.

        Returns
        -------
        ndarray of shape (n_samples, n_variables)
        """
        check_is_fitted(self)
        codes = self._codes_of(X)
        posteriors = self._posteriors(codes)
        out = codes.copy()
        for i, post in enumerate(posteriors):
            for v, p in post.items():
                out[i, v] = int(np.argmax(p))
        return out

    def _codes_of(self, X):
        """The rows of ``X`` as codes, ``-1`` allowed (missing), read as every
        input is."""
        if sp.issparse(X):
            raise TypeError("BayesianNetwork does not accept sparse input")
        if not hasattr(X, "shape") and not isinstance(X, str | os.PathLike):
            X = np.asarray(X, dtype=np.float64)
        return self._map_rows(
            X, lambda b: self._check_rows(b.X, b, missing=True), desc="predict"
        )

    def sample(self, n=1, random_state=None):
        """Draw ``n`` rows, ancestors first.

        Parameters
        ----------
        n : int, default=1
            Rows.
        random_state : int, RandomState instance or None, default=None
            Seed.

        Returns
        -------
        X : ndarray of shape (n, n_variables)
        """
        check_is_fitted(self)
        rng = check_random_state(random_state)
        d = len(self.structure_)
        out = np.zeros((n, d), dtype=np.int64)
        done = [False] * d
        while not all(done):
            for v, parents in enumerate(self.structure_):
                if done[v] or not all(done[p] for p in parents):
                    continue
                tables = self.probabilities_[v][tuple(out[:, p] for p in parents)]
                tables = np.broadcast_to(tables, (n, tables.shape[-1]))
                cdf = np.cumsum(tables, axis=-1)
                u = rng.rand(n, 1) * cdf[:, -1:]
                out[:, v] = np.minimum((u >= cdf).sum(axis=1), cdf.shape[1] - 1)
                done[v] = True
        return out


class _ColumnMax:
    """The largest value of each column of the rows seen."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __add__(self, other):
        return _ColumnMax(np.maximum(self.value, other.value))
