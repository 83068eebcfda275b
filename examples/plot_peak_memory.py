"""
Peak memory against data size
=============================

scikit-learn's :class:`~sklearn.mixture.GaussianMixture` needs the data in
memory, and, during EM, arrays of the size of the data: the responsibilities
and, for every component, the rows multiplied by its precision factor.
:class:`~sklearn_ooc.mixture.OOCGaussianMixture` reads a memory map one batch
at a time and keeps only the statistics of the components, so the memory it
adds does not grow with the number of rows. This example measures both on
files of increasing size.
"""

import os
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from sklearn_ooc.io import write_mixture
from sklearn_ooc.mixture import OOCGaussianMixture
from sklearn_ooc.utils import PeakMemory

# %%
# How memory is measured
# ----------------------
#
# :class:`~sklearn_ooc.utils.PeakMemory` samples, on a background thread, the
# anonymous resident memory of the process (``RssAnon`` on Linux) and keeps
# the largest increase over its value on entry. Pages of a memory-mapped file
# are not counted: they belong to the page cache, which the operating system
# shares and reclaims at will, so they are not memory the fit adds.
#
# Both fits run one EM iteration from the same given parameters (no k-means),
# which is enough to reach the peak: every further iteration allocates the
# same arrays again. Stopping at ``max_iter`` raises a convergence warning,
# which we silence. A first small fit of each kind loads the compiled kernels
# and the libraries, so that their memory is not charged to the first size.

n_features, n_components = 10, 3
rng = np.random.default_rng(0)
start = dict(
    weights_init=np.full(n_components, 1 / n_components),
    means_init=rng.normal(size=(n_components, n_features)),
    precisions_init=np.repeat(np.eye(n_features)[np.newaxis], n_components, axis=0),
    max_iter=1,
    tol=0.0,
)
directory = tempfile.mkdtemp()
path = os.path.join(directory, "mixture.npy")


def measure(size_mb):
    """Peak extra memory of both fits on a file of ``size_mb`` megabytes."""
    n_samples = int(size_mb * 1e6) // (8 * n_features)
    write_mixture(path, n_samples, n_features, n_components, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        X = np.load(path, mmap_mode="r")
        ooc = OOCGaussianMixture(n_components, n_jobs=2, **start)
        with PeakMemory() as ooc_memory:
            ooc.fit(X, batch_size=10_000)
        del X
        # scikit-learn: the data must be loaded first, then EM runs in memory.
        with PeakMemory() as sklearn_memory:
            X = np.load(path)
            GaussianMixture(n_components, **start).fit(X)
            del X
    os.remove(path)
    return ooc_memory.peak / 1e6, sklearn_memory.peak / 1e6


measure(1)  # warm up
sizes = [12.5, 25, 50, 100]
ooc_peaks, sklearn_peaks = [], []
for size in sizes:
    ooc_peak, sklearn_peak = measure(size)
    ooc_peaks.append(ooc_peak)
    sklearn_peaks.append(sklearn_peak)
    print(
        f"{size:6.1f} MB file: OOCGaussianMixture {ooc_peak:7.1f} MB, "
        f"GaussianMixture {sklearn_peak:7.1f} MB"
    )
os.rmdir(directory)

print(f"peak extra memory, OOCGaussianMixture: {ooc_peaks[-1]:.1f} MB")
print(f"peak extra memory, GaussianMixture: {sklearn_peaks[-1]:.1f} MB")

# %%
# The result
# ----------
#
# scikit-learn's peak grows in proportion to the data, at about four times
# its size: the array itself, then, component by component, temporaries as
# large as the data (the rows times the precision factor and their squares in
# the E-step, the centered rows in the M-step), and the responsibilities.
#
# The out-of-core fit stays flat whatever the size of the file: it holds the
# batches in flight (two threads, 10,000 rows each, under 1 MB apiece) and the
# statistics of three components. The figures for it wander between a fraction
# of a megabyte and a few megabytes because batches are allocated and freed
# over and over, and the allocator often serves them from memory the process
# already holds. A file of 100 GB would be fitted in the same memory, one
# pass over it per iteration.

fig, ax = plt.subplots(figsize=(7, 5))
ax.plot(sizes, sklearn_peaks, "o-", label="sklearn GaussianMixture (load + fit)")
ax.plot(sizes, ooc_peaks, "o-", label="OOCGaussianMixture (memory map)")
ax.plot(sizes, sizes, "k--", lw=1, label="size of the data")
ax.set_xlabel("size of the data (MB)")
ax.set_ylabel("peak extra memory (MB)")
ax.set_title(f"Gaussian mixture, {n_components} components, {n_features} features")
ax.legend()
fig.tight_layout()

plt.show()
