"""
Exact EM versus minibatch EM
============================

:class:`~sklearn_ooc.mixture.OOCGaussianMixture` runs exact EM by default:
every iteration is one full pass over the data, and the lower bound (the mean
log-likelihood of a row) can only go up. With ``batches_per_epoch`` set, an
iteration reads only the next few batches and updates the parameters from
them (minibatch EM); with ``decay`` as well, it keeps a running average of
the statistics of all the minibatches seen so far (stepwise EM). This example
plots the lower bound of the three against the number of passes over the
file, the cost that matters when the data live on disk.
"""

import os
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_ooc.io import write_mixture
from sklearn_ooc.mixture import OOCGaussianMixture

# %%
# The data: 200,000 rows from six overlapping Gaussians in five dimensions,
# written to a ``.npy`` file chunk by chunk and read back as a memory map in
# batches of 5,000 rows (40 batches a pass).

directory = tempfile.mkdtemp()
path = os.path.join(directory, "mixture.npy")
n_samples, batch_size = 200_000, 5_000
write_mixture(path, n_samples, 5, 6, separation=1.5, random_state=0)
X = np.load(path, mmap_mode="r")

common = dict(n_components=6, random_state=0, n_jobs=2, batch_size=batch_size)

# %%
# Exact EM
# --------
#
# ``lower_bounds_`` holds the bound measured by each pass, under the
# parameters of the previous iteration: entry ``i`` is the bound after ``i``
# passes of updates. EM stops when it changes by less than ``tol``.

exact = OOCGaussianMixture(tol=1e-4, max_iter=200, **common).fit(X)
exact_passes = np.arange(exact.n_iter_)
print(
    f"exact EM: converged={exact.converged_} after {exact.n_iter_} passes, "
    f"lower bound {exact.lower_bound_:.5f}"
)
# EM never decreases the likelihood: any decrease would be rounding.
print(f"smallest change between passes: {np.diff(exact.lower_bounds_).min():.3g}")

# %%
# Minibatch and stepwise EM
# -------------------------
#
# Each iteration reads 4 batches, a tenth of a pass. ``lower_bounds_`` is then
# the bound of those 20,000 rows only: a noisy estimate, no longer monotonic.
# To see where the parameters really stand, we stop every half pass and score
# the whole file (``score`` is the mean log-likelihood, the quantity exact EM
# reports). ``warm_start=True`` makes the next ``fit`` carry on exactly where
# the previous one stopped: same batch cursor, same running statistics, so the
# chunks of five iterations add up to one uninterrupted run. With ``tol=0``
# the runs never stop early, so the warning that they did not converge is
# expected and silenced.

batches_per_epoch = 4
per_iteration = batches_per_epoch * batch_size / n_samples
iterations_per_checkpoint = 5
n_checkpoints = 10

minibatch_runs = {}
for label, decay in [("minibatch EM", None), ("stepwise EM, decay=0.6", 0.6)]:
    model = OOCGaussianMixture(
        tol=0.0,
        max_iter=iterations_per_checkpoint,
        warm_start=True,
        batches_per_epoch=batches_per_epoch,
        decay=decay,
        **common,
    )
    noisy, checkpoints, full_bounds = [], [], []
    for checkpoint in range(1, n_checkpoints + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X)
        noisy += model.lower_bounds_
        checkpoints.append(checkpoint * iterations_per_checkpoint * per_iteration)
        full_bounds.append(model.score(X))
    minibatch_runs[label] = (noisy, checkpoints, full_bounds)
    print(
        f"{label}: lower bound {full_bounds[-1]:.5f} after {checkpoints[-1]:g} "
        f"passes ({full_bounds[1]:.5f} after 1 pass; exact EM "
        f"{exact.lower_bounds_[1]:.5f})"
    )

# %%
# The curves
# ----------
#
# Exact EM climbs steadily until an iteration gains less than ``tol``, near a
# stationary point of the likelihood: the one scikit-learn's
# ``GaussianMixture`` would reach from the same start. Minibatch EM updates
# ten times a pass, so after half a pass it is already better than exact EM
# after two; but each update uses only the last few batches, and the
# parameters keep jittering just below the optimum without settling on it.
# Stepwise EM averages the statistics with steps ``(t + 2) ** -decay`` that
# shrink over time, so the jitter dies down and it creeps towards the
# optimum, slowly. The faint dots are the per-minibatch bounds that
# ``lower_bounds_`` reports in minibatch mode: their noise comes from the
# 20,000 rows they were measured on, not from the parameters, which is why a
# ``tol`` test on them is not a reliable stopping rule.

fig, ax = plt.subplots(figsize=(8, 5))
ax.plot(exact_passes, exact.lower_bounds_, "ko-", label="exact EM")
for (label, (noisy, checkpoints, full_bounds)), color, dots_label in zip(
    minibatch_runs.items(),
    ["C0", "C1"],
    ["lower_bounds_ (one minibatch)", None],
    strict=True,
):
    iterations = np.arange(len(noisy))
    ax.plot(
        iterations * per_iteration, noisy, ".", color=color, alpha=0.3, label=dots_label
    )
    ax.plot(checkpoints, full_bounds, "o-", color=color, label=f"{label} (whole file)")
low = min(exact.lower_bounds_[1], *(run[2][0] for run in minibatch_runs.values()))
ax.set_ylim(low - 0.005, exact.lower_bound_ + 0.01)
ax.set_xlabel("passes over the data")
ax.set_ylabel("lower bound (mean log-likelihood per row)")
ax.legend(loc="lower right")
ax.set_title("EM on a memory map: exact, minibatch and stepwise")
fig.tight_layout()

del X
os.remove(path)
os.rmdir(directory)

plt.show()
