"""Every example runs, and what it prints is right."""

import pathlib
import re
import runpy

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parents[1] / "examples").glob("*.py"))


def _number(out, label):
    """The number printed right after ``label`` (a regular expression)."""
    match = re.search(label + r"\s*(-?[0-9.]+(?:e[-+]?[0-9]+)?)", out)
    assert match, f"{label!r} not found in the output:\n{out}"
    return float(match.group(1))


def _check_streaming_ridge(out):
    # The statistics are merged exactly up to rounding: coefficients of order
    # one agree with scikit-learn's to a few hundred ulps, even with the data
    # offset by 1e6.
    assert _number(out, "largest coefficient difference:") < 1e-10
    assert _number(out, r"R\^2 on the file, streamed:") > 0.9
    # The contrast the example draws: uncentered sums lose digits to the
    # offset, visibly (the example says "off in the third digit").
    assert _number(out, "naive normal equations, largest difference:") > 1e-4


def _check_gaussian_mixture(out):
    iterations = re.search(r"OOCGaussianMixture (\d+), scikit-learn (\d+)", out)
    assert iterations and iterations.group(1) == iterations.group(2)
    # Same start, same EM steps: the parameters (of order 1 to 10) differ by
    # rounding only, about 1e-12 after the 26 iterations. 1e-9 leaves a wide
    # margin and is still far below what one EM iteration more or less, or a
    # different start, would change (more than tol=1e-6 in the bound).
    assert _number(out, "largest parameter difference:") < 1e-9
    assert _number(out, "lower bound difference:") < 1e-10


def _check_em_convergence(out):
    assert "exact EM: converged=True" in out
    # EM is monotonic; allow rounding of a mean of 200,000 log-likelihoods.
    assert _number(out, "smallest change between passes:") > -1e-10
    exact = _number(out, r"exact EM: converged=True after \d+ passes, lower bound")
    for run in ("minibatch EM", r"stepwise EM, decay=0\.6"):
        final = _number(out, run + ": lower bound")
        after_one = _number(out, run + r": lower bound \S+ after \S+ passes \(")
        exact_after_one = _number(out, run + r": .*exact EM")
        # Minibatch updates get further than exact EM in the first pass...
        assert after_one > exact_after_one
        # ...and end close to the exact optimum, though not at it: within 5e-3
        # of a mean log-likelihood per row, against a climb of about 0.1 from
        # the initialization.
        assert abs(final - exact) < 5e-3


def _check_peak_memory(out):
    ooc = _number(out, "peak extra memory, OOCGaussianMixture:")
    in_memory = _number(out, "peak extra memory, GaussianMixture:")
    # scikit-learn holds the 100 MB of data and more; the out-of-core fit holds
    # two batches of 10,000 rows (0.8 MB each) and small statistics, plus
    # whatever the allocator does not reuse: a few MB.
    assert in_memory > 100
    assert ooc < 25
    assert ooc < in_memory / 10


def _check_ridge_cv(out):
    # R^2 scores of order 0.1 to 1 from the same sums, and coefficients of
    # well-conditioned systems (X has i.i.d. standard normal columns): rounding
    # makes them differ by about 1e-16.
    assert _number(out, "largest CV score difference:") < 1e-10
    assert (
        _number(out, "largest coefficient difference of the refitted models:") < 1e-10
    )
    assert _number(out, "alpha_ =") == _number(out, "best alpha =")


def _check_sgd_shuffle(out):
    def accuracy(name):
        return _number(out, re.escape(name) + ": validation accuracy")

    def lowest(name):
        return _number(out, re.escape(name) + r": .* lowest")

    reference = _number(out, "sklearn SGDClassifier in memory: validation accuracy")
    shuffled = "file shuffled on disk"
    in_order = "sorted file, read in order"
    blocks = "sorted file, shuffle='block'"
    # After the shuffle on disk SGD is as good as in memory (an 8,000-row
    # validation set: 0.02 is about four standard errors); scikit-learn's plain
    # SGD is about 0.02 below that after its first epoch.
    assert accuracy(shuffled) > reference - 0.02
    assert (
        abs(_number(out, "shuffle='disk' in fit: validation accuracy") - reference)
        < 0.02
    )
    # Reading the sorted file in order stays far worse; shuffling the blocks
    # only is worse at some epochs.
    assert accuracy(in_order) < accuracy(shuffled) - 0.1
    assert lowest(blocks) < lowest(shuffled) - 0.05


def _check_kernel_ridge(out):
    assert _number(out, "relative residual") <= 1e-10
    # CG stops at a relative residual r <= tol = 1e-10; the prediction error is
    # then at most about n / alpha * r = 4e4 * r for an RBF kernel (|k| <= 1)
    # and targets of order one, plus rounding in sums of 4,000 terms (dual
    # coefficients up to ||y|| / alpha ~ 600): 1e-8 bounds both.
    assert _number(out, "largest prediction difference:") < 1e-8


CHECKS = {
    "plot_em_convergence.py": _check_em_convergence,
    "plot_gaussian_mixture.py": _check_gaussian_mixture,
    "plot_kernel_ridge.py": _check_kernel_ridge,
    "plot_peak_memory.py": _check_peak_memory,
    "plot_ridge_cv.py": _check_ridge_cv,
    "plot_sgd_shuffle.py": _check_sgd_shuffle,
    "plot_streaming_ridge.py": _check_streaming_ridge,
}


def test_every_example_is_checked():
    assert sorted(path.name for path in EXAMPLES) == sorted(CHECKS)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, capsys, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    try:
        runpy.run_path(str(path), run_name="__main__")
        # The gallery shows the figures an example leaves open: each has one
        # at least, with something drawn in it.
        figures = [plt.figure(n) for n in plt.get_fignums()]
        assert figures, f"{path.name} draws no figure"
        for figure in figures:
            assert any(ax.has_data() for ax in figure.axes), f"{path.name}: empty"
    finally:
        plt.close("all")
    out = capsys.readouterr().out
    CHECKS[path.name](out)
