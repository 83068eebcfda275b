"""Dynamic programming over subsets of variables: the exact search of a
Bayesian network's structure (Silander and Myllymaki)."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _popcount(mask):
    count = 0
    while mask:
        mask &= mask - 1
        count += 1
    return count


@njit(cache=True, nogil=True)
def best_parent_sets(local):
    """For every set of candidate parents, the best parent set within it.

    ``local[mask]`` is the score of the parent set ``mask`` itself (``-inf``
    where it is not allowed). Returns ``(score, chosen)``: for each ``mask``,
    the best score of a parent set contained in it and that set; among equal
    scores, the set of fewer parents, then the first met.
    """
    size = local.shape[0]
    bits = 0
    while (1 << bits) < size:
        bits += 1
    if (1 << bits) != size:
        raise ValueError("local must have a power-of-two length")
    score = np.empty(size)
    chosen = np.empty(size, dtype=np.int64)
    for mask in range(size):
        best = local[mask]
        pick = mask
        for u in range(bits):
            if (mask >> u) & 1:
                sub = mask ^ (1 << u)
                s = score[sub]
                if s > best or (s == best and _popcount(chosen[sub]) < _popcount(pick)):
                    best = s
                    pick = chosen[sub]
        score[mask] = best
        chosen[mask] = pick
    return score, chosen


@njit(cache=True, nogil=True)
def _without(mask, v):
    """``mask`` (over all variables, ``v`` not in it) over the others of ``v``."""
    low = mask & ((1 << v) - 1)
    return low | ((mask >> (v + 1)) << v)


@njit(cache=True, nogil=True)
def best_network_order(parent_scores):
    """The best network on every subset of the ``d`` variables, as its last
    variable (a sink): ``parent_scores[v, m]`` is the best score of ``v``'s
    parents within the set ``m`` of the other variables (indexed as by
    :func:`best_parent_sets`). Returns the sink of each subset (``-1`` for
    the empty one); among equal totals, the lowest variable."""
    d = parent_scores.shape[0]
    if d < 1 or parent_scores.shape[1] != (1 << (d - 1)):
        raise ValueError("parent_scores must be d x 2**(d - 1), d >= 1")
    total = np.empty(1 << d)
    sink = np.empty(1 << d, dtype=np.int64)
    total[0] = 0.0
    sink[0] = -1
    for mask in range(1, 1 << d):
        best = -np.inf
        pick = -1
        for v in range(d):
            if (mask >> v) & 1:
                rest = mask ^ (1 << v)
                s = total[rest] + parent_scores[v, _without(rest, v)]
                if s > best or pick < 0:
                    best = s
                    pick = v
        total[mask] = best
        sink[mask] = pick
    return sink


@njit(cache=True, nogil=True)
def count_families(codes, members, radices, offsets, weights, out):
    """Add each row's weight to the cell of its joint value in every family.

    Family ``f`` is the variables ``members[f, :]`` (``-1`` after its last),
    its joint value the mixed-radix code of their values (the first the most
    significant, with ``radices[f, j]`` values for variable ``j``), its cells
    ``out[offsets[f]:offsets[f + 1]]``. ``weights`` empty: every row counts 1.
    """
    n = codes.shape[0]
    n_families, width = members.shape
    if radices.shape[0] != n_families or radices.shape[1] != width:
        raise ValueError("radices must have the shape of members")
    if offsets.shape[0] != n_families + 1 or out.shape[0] < offsets[n_families]:
        raise ValueError("offsets must bound the cells of out")
    weighted = weights.shape[0] > 0
    if weighted and weights.shape[0] != n:
        raise ValueError("weights must have one value a row")
    for i in range(n):
        w = weights[i] if weighted else 1.0
        for f in range(n_families):
            code = 0
            for j in range(width):
                v = members[f, j]
                if v < 0:
                    break
                code = code * radices[f, j] + codes[i, v]
            out[offsets[f] + code] += w
