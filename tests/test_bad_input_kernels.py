"""The numba kernels refuse sizes that disagree, before any out-of-bounds access.

numba compiles without bounds checks, so a kernel that trusted a size it did
not check would read or write past the end of an array, and the process
could die of SIGSEGV. Each case gives a kernel arguments whose sizes
disagree (mostly by one) and asserts a ValueError and every array argument
unchanged. Cases that would crash or hang the interpreter without the checks
run in a subprocess.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sklearn_ooc import _kernels
from sklearn_ooc._kernels import _gaussian, _sgd
from sklearn_ooc._kernels._sgd import LOSS_SQUARED_ERROR, LR_INVSCALING, PENALTY_L1

# The per-model arrays of ``sgd_rows`` (one entry per model, a row of W).
_SGD_PER_MODEL = (
    "active", "wscale", "intercept", "avg_a", "avg_b", "avg_intercept", "u",
    "sq_norm", "l1_norm", "eta", "t", "sumloss", "objective", "count",
    "pos_weight", "neg_weight",
)  # fmt: skip


def _sgd_args(**changes):
    """Arguments of ``sgd_rows`` for 10 rows, 3 features, 2 models (L1
    penalty, averaging and the loss tracked, so that every array is used)."""
    rng = np.random.default_rng(0)
    args = dict(
        X=rng.normal(size=(10, 3)),
        Y=rng.normal(size=(10, 2)),
        sample_weight=np.ones(10),
        rows=np.arange(10),
        active=np.ones(2, dtype=bool),
        W=np.zeros((2, 3)),
        wscale=np.ones(2),
        intercept=np.zeros(2),
        AW=np.zeros((2, 3)),
        avg_a=np.zeros(2),
        avg_b=np.ones(2),
        avg_intercept=np.zeros(2),
        Q=np.zeros((2, 3)),
        u=np.zeros(2),
        sq_norm=np.zeros(2),
        l1_norm=np.zeros(2),
        eta=np.full(2, 0.01),
        t=np.ones(2),
        sumloss=np.zeros(2),
        objective=np.zeros(2),
        count=np.zeros(2, dtype=np.int64),
        pos_weight=np.ones(2),
        neg_weight=np.ones(2),
        loss=LOSS_SQUARED_ERROR,
        loss_param=0.0,
        penalty=PENALTY_L1,
        alpha=1e-4,
        l1_ratio=0.15,
        schedule=LR_INVSCALING,
        eta0=0.01,
        power_t=0.25,
        optimal_init=1.0,
        fit_intercept=True,
        intercept_decay=1.0,
        average=1.0,
        track_loss=True,
        wscale_floor=1e-9,
        sparse=False,
    )
    args.update(changes)
    return tuple(args.values())


def _wscale_args(**changes):
    """Arguments of ``reset_wscale`` for 2 models of 3 features."""
    args = dict(
        W=np.ones((2, 3)),
        wscale=np.full(2, 0.5),
        AW=np.zeros((2, 3)),
        avg_a=np.ones(2),
        avg_b=np.full(2, 2.0),
        averaging=True,
    )
    args.update(changes)
    return tuple(args.values())


def _projected_args(n=6, k=3, d=2, **changes):
    """``projected_em_rows`` arguments; ``projected_log_prob`` takes the first
    four and an ``out``."""
    rng = np.random.default_rng(0)
    args = dict(
        Z=rng.normal(size=(n, k * d)),
        offsets=rng.normal(size=(k, d)),
        log_const=np.zeros(k),
        stride=d,
        Xc=rng.normal(size=(n, d)),
        shifts=np.zeros((k, d)),
        rows=np.zeros((k, n, d)),
        resp_sum=np.zeros(k),
        sums=np.zeros((k, d)),
    )
    args.update(changes)
    return tuple(args.values())


def _projected_log_prob_args(n=6, k=3, d=2, **changes):
    rng = np.random.default_rng(0)
    args = dict(
        Z=rng.normal(size=(n, k * d)),
        offsets=rng.normal(size=(k, d)),
        log_const=np.zeros(k),
        stride=d,
        out=np.zeros((n, k)),
    )
    args.update(changes)
    return tuple(args.values())


def _diag_args(n=6, k=3, d=2, **changes):
    rng = np.random.default_rng(0)
    args = dict(
        X=rng.normal(size=(n, d)),
        means=rng.normal(size=(k, d)),
        precisions=np.ones((k, d)),
        log_const=np.zeros(k),
        shifts=np.zeros((k, d)),
        resp_sum=np.zeros(k),
        sums=np.zeros((k, d)),
        squares=np.zeros((k, d)),
    )
    args.update(changes)
    return tuple(args.values())


def _diag_log_prob_args(n=6, k=3, d=2, **changes):
    rng = np.random.default_rng(0)
    args = dict(
        X=rng.normal(size=(n, d)),
        means=rng.normal(size=(k, d)),
        precisions=np.ones((k, d)),
        log_const=np.zeros(k),
        out=np.zeros((n, k)),
    )
    args.update(changes)
    return tuple(args.values())


def _lloyd_args(n=6, k=3, d=2, **changes):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    centers = rng.normal(size=(k, d))
    args = dict(
        Xs=X,
        D=X @ centers.T,
        centers=centers,
        center_norms=(centers**2).sum(axis=1),
        w=np.empty(0),
        labels=np.zeros(n, dtype=np.intp),
        sums=np.zeros((k, d)),
        weights=np.zeros(k),
        far=np.full((2, k), -np.inf),
        row0=0,
    )
    args.update(changes)
    return tuple(args.values())


def _pair_args(**changes):
    rng = np.random.default_rng(0)
    args = dict(
        A=rng.uniform(size=(4, 3)),
        B=rng.uniform(size=(5, 3)),
        gamma=0.5,
        out=np.zeros((4, 5)),
    )
    args.update(changes)
    return tuple(args.values())


def _rbf_args(**changes):
    args = dict(
        D=np.ones((4, 5)),
        a_norms=np.ones(4),
        b_norms=np.ones(5),
        gamma=0.5,
        row0=0,
        col0=0,
        same=False,
    )
    args.update(changes)
    return tuple(args.values())


def _permute_args(n=5, **changes):
    args = dict(rows=np.arange(n * 8, dtype=np.uint8).reshape(n, 8), perm=None)
    args["perm"] = np.random.default_rng(0).permutation(n)
    args.update(changes)
    return tuple(args.values())


def _linear_args(**changes):
    rng = np.random.default_rng(0)
    args = dict(
        X=rng.normal(size=(6, 3)),
        coef=rng.normal(size=(2, 3)),
        intercept=np.zeros(2),
        out=np.zeros((6, 2)),
    )
    args.update(changes)
    return tuple(args.values())


def _shift_args(**changes):
    args = dict(X=np.ones((4, 3)), shift=np.ones(3), out=np.zeros((4, 3)))
    args.update(changes)
    return tuple(args.values())


def _least_squares_args(**changes):
    args = dict(
        X=np.ones((4, 3)),
        Y=np.ones((4, 2)),
        root=np.ones(4),
        x_shift=np.ones(3),
        y_shift=np.ones(2),
        out=np.zeros((4, 6)),
    )
    args.update(changes)
    return tuple(args.values())


def _centered_args(**changes):
    args = dict(
        X=np.ones((4, 3)),
        shift=np.ones(3),
        delta=np.ones(3),
        again=np.ones(3),
        out=np.zeros((4, 3)),
    )
    args.update(changes)
    return tuple(args.values())


def _column_sums_args(**changes):
    args = dict(X=np.ones((4, 3)), shift=np.ones(3), delta=np.ones(3), sums=np.zeros(3))
    args.update(changes)
    return tuple(args.values())


def _logistic_args(**changes):
    args = dict(
        Z=np.ones((4, 3)),
        scores=np.zeros(4),
        positive=np.array([True, False, True, False]),
        w=np.ones(4),
        gradient=np.zeros(3),
    )
    args.update(changes)
    return tuple(args.values())


# (kernel, arguments, what the message says); the arguments of every good
# call are those of its helper without changes.
BAD_CALLS = {
    # sgd_rows
    "sgd Y fewer rows than X": (
        _kernels.sgd_rows,
        _sgd_args(Y=np.zeros((9, 2))),
        "sgd_rows: Y needs one row per row of X",
    ),
    "sgd sample_weight": (
        _kernels.sgd_rows,
        _sgd_args(sample_weight=np.ones(9)),
        "sgd_rows: sample_weight needs one entry per row of X",
    ),
    "sgd rows past X": (
        _kernels.sgd_rows,
        _sgd_args(rows=np.array([0, 3, 10])),
        "sgd_rows: rows names a row outside X",
    ),
    "sgd negative rows": (
        _kernels.sgd_rows,
        _sgd_args(rows=np.array([0, -1])),
        "sgd_rows: rows names a row outside X",
    ),
    "sgd X columns": (
        _kernels.sgd_rows,
        _sgd_args(X=np.zeros((10, 4))),
        "sgd_rows: W needs one column per column of X",
    ),
    "sgd Y columns": (
        _kernels.sgd_rows,
        _sgd_args(Y=np.zeros((10, 1))),
        r"sgd_rows: Y needs one column per model \(row of W\)",
    ),
    "sgd AW rows": (
        _kernels.sgd_rows,
        _sgd_args(AW=np.zeros((1, 3))),
        "sgd_rows: AW must have the shape of W",
    ),
    "sgd AW columns": (
        _kernels.sgd_rows,
        _sgd_args(AW=np.zeros((2, 4))),
        "sgd_rows: AW must have the shape of W",
    ),
    "sgd Q": (
        _kernels.sgd_rows,
        _sgd_args(Q=np.zeros((2, 2))),
        "sgd_rows: Q must have the shape of W",
    ),
    **{
        f"sgd {name} {size}": (
            _kernels.sgd_rows,
            _sgd_args(
                **{
                    name: np.ones(
                        size,
                        dtype={"active": bool, "count": np.int64}.get(name, float),
                    )
                }
            ),
            rf"sgd_rows: {name} needs one entry per model \(row of W\)",
        )
        for name in _SGD_PER_MODEL
        for size in (1, 3)
    },
    # reset_wscale
    "reset_wscale AW": (
        _kernels.reset_wscale,
        _wscale_args(AW=np.zeros((2, 2))),
        "reset_wscale: AW must have the shape of W",
    ),
    **{
        f"reset_wscale {name}": (
            _kernels.reset_wscale,
            _wscale_args(**{name: np.ones(1)}),
            f"reset_wscale: {name} needs one entry per row of W",
        )
        for name in ("wscale", "avg_a", "avg_b")
    },
    "rand state": (
        _sgd._our_rand_r,
        (np.zeros(0, dtype=np.uint32),),
        "_our_rand_r: state needs one entry",
    ),
    # linear_outputs
    "linear coef columns": (
        _kernels.linear_outputs,
        _linear_args(coef=np.zeros((2, 4))),
        "coef or intercept does not fit X",
    ),
    "linear intercept": (
        _kernels.linear_outputs,
        _linear_args(intercept=np.zeros(1)),
        "coef or intercept does not fit X",
    ),
    "linear out rows": (
        _kernels.linear_outputs,
        _linear_args(out=np.zeros((5, 2))),
        "out must be",
    ),
    "linear out columns": (
        _kernels.linear_outputs,
        _linear_args(out=np.zeros((6, 1))),
        "out must be",
    ),
    # logistic regression
    **{
        f"logistic {name}": (
            _kernels.logistic_rows,
            _logistic_args(**{name: value}),
            "scores, positive and w must fit Z's rows",
        )
        for name, value in (
            ("scores", np.zeros(3)),
            ("positive", np.ones(5, dtype=bool)),
            ("w", np.ones(3)),
        )
    },
    "logistic gradient": (
        _kernels.logistic_rows,
        _logistic_args(gradient=np.zeros(2)),
        "gradient must fit Z's columns",
    ),
    # Gaussian mixtures
    "least squares Y rows": (
        _kernels.least_squares_rows,
        _least_squares_args(Y=np.ones((3, 2))),
        "Y, root, the shifts or out do not fit X",
    ),
    "least squares root": (
        _kernels.least_squares_rows,
        _least_squares_args(root=np.ones(5)),
        "Y, root, the shifts or out do not fit X",
    ),
    "least squares x shift": (
        _kernels.least_squares_rows,
        _least_squares_args(x_shift=np.ones(2)),
        "Y, root, the shifts or out do not fit X",
    ),
    "least squares y shift": (
        _kernels.least_squares_rows,
        _least_squares_args(y_shift=np.ones(3)),
        "Y, root, the shifts or out do not fit X",
    ),
    "least squares out rows": (
        _kernels.least_squares_rows,
        _least_squares_args(out=np.zeros((3, 6))),
        "Y, root, the shifts or out do not fit X",
    ),
    "least squares out columns": (
        _kernels.least_squares_rows,
        _least_squares_args(out=np.zeros((4, 5))),
        "Y, root, the shifts or out do not fit X",
    ),
    "centered shift": (
        _kernels.centered_columns,
        _centered_args(shift=np.ones(2)),
        "the shifts or out do not fit X",
    ),
    "centered delta": (
        _kernels.centered_columns,
        _centered_args(delta=np.ones(4)),
        "the shifts or out do not fit X",
    ),
    "centered again": (
        _kernels.centered_columns,
        _centered_args(again=np.ones(2)),
        "the shifts or out do not fit X",
    ),
    "centered out rows": (
        _kernels.centered_columns,
        _centered_args(out=np.zeros((3, 3))),
        "the shifts or out do not fit X",
    ),
    "centered out columns": (
        _kernels.centered_columns,
        _centered_args(out=np.zeros((4, 4))),
        "the shifts or out do not fit X",
    ),
    "column sums shift": (
        _kernels.shifted_column_sums,
        _column_sums_args(shift=np.ones(4)),
        "shift, delta or sums do not fit X",
    ),
    "column sums delta": (
        _kernels.shifted_column_sums,
        _column_sums_args(delta=np.ones(2)),
        "shift, delta or sums do not fit X",
    ),
    "column sums sums": (
        _kernels.shifted_column_sums,
        _column_sums_args(sums=np.zeros(4)),
        "shift, delta or sums do not fit X",
    ),
    "subtract shift": (
        _kernels.subtract_shift,
        _shift_args(shift=np.ones(2)),
        "shift or out does not fit X",
    ),
    "subtract out rows": (
        _kernels.subtract_shift,
        _shift_args(out=np.zeros((3, 3))),
        "shift or out does not fit X",
    ),
    "subtract out columns": (
        _kernels.subtract_shift,
        _shift_args(out=np.zeros((4, 2))),
        "shift or out does not fit X",
    ),
    "projected log prob out rows": (
        _kernels.projected_log_prob,
        _projected_log_prob_args(out=np.zeros((5, 3))),
        "out must be",
    ),
    "projected log prob out columns": (
        _kernels.projected_log_prob,
        _projected_log_prob_args(out=np.zeros((6, 2))),
        "out must be",
    ),
    "projected log prob log_const": (
        _kernels.projected_log_prob,
        _projected_log_prob_args(log_const=np.zeros(2)),
        "log_const, offsets or stride unlike Z",
    ),
    "projected log prob stride past Z": (
        _kernels.projected_log_prob,
        _projected_log_prob_args(stride=3),
        "log_const, offsets or stride unlike Z",
    ),
    "projected log prob negative stride": (
        _kernels.projected_log_prob,
        _projected_log_prob_args(stride=-1),
        "log_const, offsets or stride unlike Z",
    ),
    "projected log prob Z columns": (
        _kernels.projected_log_prob,
        _projected_log_prob_args(Z=np.zeros((6, 5))),
        "log_const, offsets or stride unlike Z",
    ),
    "projected em Z rows": (
        _kernels.projected_em_rows,
        _projected_args(Z=np.zeros((5, 6))),
        "Z needs the rows of Xc",
    ),
    "projected em stride": (
        _kernels.projected_em_rows,
        _projected_args(stride=3),
        "Z needs the rows of Xc",
    ),
    "projected em log_const": (
        _kernels.projected_em_rows,
        _projected_args(log_const=np.zeros(4)),
        "one log_const and resp_sum per component",
    ),
    "projected em resp_sum": (
        _kernels.projected_em_rows,
        _projected_args(resp_sum=np.zeros(2)),
        "one log_const and resp_sum per component",
    ),
    "projected em shifts": (
        _kernels.projected_em_rows,
        _projected_args(shifts=np.zeros((3, 1))),
        "shifts and sums must be",
    ),
    "projected em sums": (
        _kernels.projected_em_rows,
        _projected_args(sums=np.zeros((2, 2))),
        "shifts and sums must be",
    ),
    "projected em rows": (
        _kernels.projected_em_rows,
        _projected_args(rows=np.zeros((3, 5, 2))),
        "rows must be",
    ),
    "diag log prob out rows": (
        _kernels.diag_log_prob,
        _diag_log_prob_args(out=np.zeros((5, 3))),
        "out must be",
    ),
    "diag log prob out columns": (
        _kernels.diag_log_prob,
        _diag_log_prob_args(out=np.zeros((6, 4))),
        "out must be",
    ),
    "diag log prob means": (
        _kernels.diag_log_prob,
        _diag_log_prob_args(means=np.zeros((3, 3))),
        "log_const, means or precisions unlike X",
    ),
    "diag log prob precisions": (
        _kernels.diag_log_prob,
        _diag_log_prob_args(precisions=np.ones((2, 2))),
        "log_const, means or precisions unlike X",
    ),
    "diag log prob log_const": (
        _kernels.diag_log_prob,
        _diag_log_prob_args(log_const=np.zeros(2)),
        "log_const, means or precisions unlike X",
    ),
    "diag em means": (
        _kernels.diag_em_rows,
        _diag_args(means=np.zeros((3, 3))),
        "means and precisions must be",
    ),
    "diag em precisions": (
        _kernels.diag_em_rows,
        _diag_args(precisions=np.ones((3, 1))),
        "means and precisions must be",
    ),
    "diag em log_const": (
        _kernels.diag_em_rows,
        _diag_args(log_const=np.zeros(2)),
        "one log_const and resp_sum per component",
    ),
    "diag em resp_sum": (
        _kernels.diag_em_rows,
        _diag_args(resp_sum=np.zeros(4)),
        "one log_const and resp_sum per component",
    ),
    "diag em shifts": (
        _kernels.diag_em_rows,
        _diag_args(shifts=np.zeros((2, 2))),
        "shifts, sums, squares must be",
    ),
    "diag em sums": (
        _kernels.diag_em_rows,
        _diag_args(sums=np.zeros((3, 1))),
        "shifts, sums, squares must be",
    ),
    "diag em squares": (
        _kernels.diag_em_rows,
        _diag_args(squares=np.zeros((3, 3))),
        "shifts, sums, squares must be",
    ),
    "nearest center columns": (
        _kernels.nearest_center,
        (np.zeros((4, 3)), np.zeros((2, 2)), np.zeros(4, dtype=np.intp)),
        "centers or out does not fit X",
    ),
    "nearest center out": (
        _kernels.nearest_center,
        (np.zeros((4, 3)), np.zeros((2, 3)), np.zeros(3, dtype=np.intp)),
        "centers or out does not fit X",
    ),
    # k-means
    "lloyd D rows": (
        _kernels.lloyd_rows,
        _lloyd_args(D=np.zeros((5, 3))),
        "D must be",
    ),
    "lloyd no center": (
        _kernels.lloyd_rows,
        _lloyd_args(
            D=np.zeros((6, 0)),
            centers=np.zeros((0, 2)),
            center_norms=np.zeros(0),
            sums=np.zeros((0, 2)),
            weights=np.zeros(0),
        ),
        "D must be",
    ),
    "lloyd labels": (
        _kernels.lloyd_rows,
        _lloyd_args(labels=np.zeros(5, dtype=np.intp)),
        "D must be",
    ),
    "lloyd centers": (
        _kernels.lloyd_rows,
        _lloyd_args(centers=np.zeros((2, 2))),
        "centers, sums, norms and weights",
    ),
    "lloyd center columns": (
        _kernels.lloyd_rows,
        _lloyd_args(centers=np.zeros((3, 3))),
        "centers, sums, norms and weights",
    ),
    "lloyd sums": (
        _kernels.lloyd_rows,
        _lloyd_args(sums=np.zeros((3, 1))),
        "centers, sums, norms and weights",
    ),
    "lloyd norms": (
        _kernels.lloyd_rows,
        _lloyd_args(center_norms=np.zeros(2)),
        "centers, sums, norms and weights",
    ),
    "lloyd weights": (
        _kernels.lloyd_rows,
        _lloyd_args(weights=np.zeros(2)),
        "centers, sums, norms and weights",
    ),
    "lloyd w": (
        _kernels.lloyd_rows,
        _lloyd_args(w=np.ones(5)),
        "w must be empty or one weight per row",
    ),
    "lloyd far rows": (
        _kernels.lloyd_rows,
        _lloyd_args(far=np.full((1, 3), -np.inf)),
        "far must be",
    ),
    "lloyd far empty": (
        _kernels.lloyd_rows,
        _lloyd_args(far=np.full((2, 0), -np.inf)),
        "far must be",
    ),
    "weakest far empty": (
        _gaussian._weakest,
        (np.full((2, 0), -np.inf),),
        "far must be",
    ),
    # kernel ridge
    "rbf a_norms": (
        _kernels.rbf_from_dot,
        _rbf_args(a_norms=np.ones(3)),
        "a_norms and b_norms must fit",
    ),
    "rbf b_norms": (
        _kernels.rbf_from_dot,
        _rbf_args(b_norms=np.ones(6)),
        "a_norms and b_norms must fit",
    ),
    "laplacian B columns": (
        _kernels.laplacian_block,
        _pair_args(B=np.zeros((5, 2))),
        "B or out does not fit A",
    ),
    "laplacian out": (
        _kernels.laplacian_block,
        _pair_args(out=np.zeros((4, 4))),
        "B or out does not fit A",
    ),
    "chi2 B columns": (
        _kernels.chi2_block,
        _pair_args(B=np.ones((5, 4))),
        "B or out does not fit A",
    ),
    "chi2 out": (
        _kernels.chi2_block,
        _pair_args(out=np.zeros((3, 5))),
        "B or out does not fit A",
    ),
    # on-disk shuffle
    "permute short perm": (
        _kernels.permute_rows_inplace,
        _permute_args(perm=np.array([1, 0, 2, 3])),
        "perm needs one entry per row",
    ),
    "permute perm past the rows": (
        _kernels.permute_rows_inplace,
        _permute_args(perm=np.array([1, 0, 2, 3, 5])),
        "perm is not a permutation",
    ),
    "permute negative perm": (
        _kernels.permute_rows_inplace,
        _permute_args(perm=np.array([1, 0, 2, 3, -1])),
        "perm is not a permutation",
    ),
}

GOOD_CALLS = {
    "sgd": (_kernels.sgd_rows, _sgd_args()),
    "sgd pa1 hinge": (
        _kernels.sgd_rows,
        _sgd_args(loss=_sgd.LOSS_HINGE, schedule=_sgd.LR_PA1, average=0.0),
    ),
    "sgd sparse elasticnet": (
        _kernels.sgd_rows,
        _sgd_args(penalty=_sgd.PENALTY_ELASTICNET, sparse=True),
    ),
    "sgd no rows": (_kernels.sgd_rows, _sgd_args(rows=np.arange(0))),
    "reset_wscale": (_kernels.reset_wscale, _wscale_args()),
    "linear": (_kernels.linear_outputs, _linear_args()),
    "least squares": (_kernels.least_squares_rows, _least_squares_args()),
    "least squares unweighted": (
        _kernels.least_squares_rows,
        _least_squares_args(root=np.empty(0)),
    ),
    "centered": (_kernels.centered_columns, _centered_args()),
    "column sums": (_kernels.shifted_column_sums, _column_sums_args()),
    "subtract": (_kernels.subtract_shift, _shift_args()),
    "subtract into wider rows": (
        _kernels.subtract_shift,
        _shift_args(out=np.zeros((4, 4))),
    ),
    "logistic": (_kernels.logistic_rows, _logistic_args()),
    "projected log prob": (_kernels.projected_log_prob, _projected_log_prob_args()),
    "tied log prob": (
        _kernels.projected_log_prob,
        _projected_log_prob_args(Z=np.zeros((6, 2)), stride=0),
    ),
    "projected em": (_kernels.projected_em_rows, _projected_args()),
    "diag log prob": (_kernels.diag_log_prob, _diag_log_prob_args()),
    "diag em": (_kernels.diag_em_rows, _diag_args()),
    "lloyd": (_kernels.lloyd_rows, _lloyd_args()),
    "lloyd weighted": (_kernels.lloyd_rows, _lloyd_args(w=np.ones(6))),
    "rbf": (_kernels.rbf_from_dot, _rbf_args()),
    "laplacian": (_kernels.laplacian_block, _pair_args()),
    "chi2": (_kernels.chi2_block, _pair_args()),
    "permute": (_kernels.permute_rows_inplace, _permute_args()),
}


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_kernel_refuses_sizes_that_disagree(case):
    kernel, args, message = BAD_CALLS[case]
    before = _copies(args)
    with pytest.raises(ValueError, match=message):
        kernel(*args)
    for arg, old in zip(args, before, strict=True):
        if isinstance(arg, np.ndarray):
            np.testing.assert_array_equal(arg, old)


@pytest.mark.parametrize("case", list(GOOD_CALLS))
def test_sizes_that_agree_pass_the_checks(case):
    kernel, args = GOOD_CALLS[case]
    kernel(*_copies(args))


def _run(code, timeout=240):
    """Run ``code`` in a new interpreter; a hang fails the test."""
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the code did not finish within {timeout} s:\n{code}")


def test_a_repeated_index_in_a_permutation_is_refused_not_looped_on():
    # [1, 1, 0] sent the cycle walk round row 1 for ever.
    result = _run(
        """
        import numpy as np
        from sklearn_ooc._kernels import permute_rows_inplace

        rows = np.arange(6, dtype=np.uint8).reshape(3, 2)
        permute_rows_inplace(rows, np.array([1, 1, 0]))
        """
    )
    assert result.returncode == 1, result.stderr
    assert "ValueError: permute_rows_inplace: perm is not a permutation" in (
        result.stderr
    )


_SHORT_STORE = """
import numpy as np
from sklearn_ooc.linear_model import StreamingSGDRegressor


class ShortStore:
    # An array store (as h5py or zarr) whose row slices come back with
    # a single row, whatever was asked for.
    def __init__(self, array):
        self._array = array
        self.shape = array.shape
        self.dtype = array.dtype
        self.ndim = array.ndim

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        rows = self._array[key]
        return rows[:1].copy() if isinstance(key, slice) else rows


# Rows enough that reading as many past a one-row buffer leaves the heap.
n = 1_000_000
X = np.ones((n, 8))
y = np.ones(n)
if {short!r} == "X":
    X = ShortStore(X)
else:
    y = ShortStore(y)
# Read by slices (shuffle=True reads scikit-learn's order by row indices).
StreamingSGDRegressor(max_iter=1, tol=None, random_state=0, shuffle=False).fit(X, y)
"""


@pytest.mark.parametrize("short", ["X", "y"])
def test_sgd_fit_on_a_store_that_returns_fewer_rows_raises(short):
    # The kernel read the rows it was not given: the interpreter died of
    # SIGSEGV (return code -11).
    result = _run(_SHORT_STORE.format(short=short))
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError"), result.stderr[-2000:]
    assert "rows" in last


def test_sgd_kernel_refuses_a_block_shorter_than_its_row_order():
    # What reached the kernel from a store that returned fewer rows: one
    # row of X, and the row order of the block asked for. Unchecked, it read
    # a million rows past a one-row buffer and the interpreter died of
    # SIGSEGV.
    result = _run(
        """
        import numpy as np
        from sklearn_ooc._kernels import sgd_rows

        n = 1_000_000
        one = np.ones(1)
        sgd_rows(
            np.ones((1, 8)), np.ones((1, 1)), one.copy(),
            np.random.default_rng(0).permutation(n), np.ones(1, dtype=bool),
            np.zeros((1, 8)), one.copy(), np.zeros(1), np.zeros((1, 8)),
            np.zeros(1), one.copy(), np.zeros(1), np.zeros((1, 8)), np.zeros(1),
            np.zeros(1), np.zeros(1), np.full(1, 0.01), one.copy(), np.zeros(1),
            np.zeros(1), np.zeros(1, dtype=np.int64), one.copy(), one.copy(),
            4, 0.0, 2, 1e-4, 0.15, 1, 0.01, 0.25, 1.0, True, 1.0, 0.0, True,
            1e-9, False,
        )
        """
    )
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "ValueError: sgd_rows: rows names a row outside X" in result.stderr
