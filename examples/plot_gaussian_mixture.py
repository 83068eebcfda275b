"""
Gaussian mixture from a file on disk
====================================

Fit :class:`~sklearn_ooc.mixture.OOCGaussianMixture` from a ``.npy`` file
opened as a memory map, and scikit-learn's
:class:`~sklearn.mixture.GaussianMixture` on the same rows loaded in memory,
both from the same starting parameters. Exact EM needs, at every iteration,
the responsibility-weighted counts, means and scatter matrices of all the
rows; :class:`~sklearn_ooc.mixture.OOCGaussianMixture` accumulates them batch
by batch, so the two fits take the same steps and end at the same mixture.
"""

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

from sklearn_ooc.io import write_mixture
from sklearn_ooc.mixture import OOCGaussianMixture

# %%
# Write the data
# --------------
#
# :func:`~sklearn_ooc.io.write_mixture` draws 100,000 rows from a mixture of
# four Gaussians in two dimensions and writes them to the file 65,536 rows at
# a time, so the whole array never exists in memory while it is written.

n_components = 4
directory = tempfile.mkdtemp()
path = os.path.join(directory, "mixture.npy")
write_mixture(path, 100_000, 2, n_components, separation=3.0, random_state=2)
X = np.load(path, mmap_mode="r")
print(f"{X.shape[0]:,} rows in {path}, {os.path.getsize(path) / 1e6:.1f} MB")

# %%
# The same starting point for both
# --------------------------------
#
# EM converges to a local optimum that depends on where it starts, so a
# comparison only makes sense from the same initial parameters. We take the
# means from k-means on the first 2,000 rows, equal weights and unit
# covariances, and give them to both estimators.

means_init = (
    KMeans(n_components, n_init=1, random_state=0).fit(X[:2000]).cluster_centers_
)
start = dict(
    weights_init=np.full(n_components, 1 / n_components),
    means_init=means_init,
    precisions_init=np.repeat(np.eye(2)[np.newaxis], n_components, axis=0),
    tol=1e-6,
    max_iter=500,
)

# %%
# Fit from the memory map, 10,000 rows at a time, on two threads; then fit
# scikit-learn on the whole array in memory.

ooc = OOCGaussianMixture(n_components, n_jobs=2, **start)
ooc.fit(X, batch_size=10_000)
reference = GaussianMixture(n_components, **start).fit(np.asarray(X))

difference = max(
    np.abs(a - b).max()
    for a, b in [
        (ooc.weights_, reference.weights_),
        (ooc.means_, reference.means_),
        (ooc.covariances_, reference.covariances_),
    ]
)
print(
    f"EM iterations: OOCGaussianMixture {ooc.n_iter_}, scikit-learn {reference.n_iter_}"
)
print(f"largest parameter difference: {difference:.3g}")
print(f"lower bound difference: {abs(ooc.lower_bound_ - reference.lower_bound_):.3g}")

# %%
# The two mixtures
# ----------------
#
# Each component is drawn as the ellipses at one and two standard deviations
# of its covariance, over a sample of the rows. The left panel is the model
# fitted from the file, the right one scikit-learn's: the ellipses coincide
# because the parameters agree to about the last digits of double precision,
# although one fit never held more than 10,000 rows at a time.


def draw_components(ax, gmm, sample, title):
    ax.scatter(sample[:, 0], sample[:, 1], s=2, color="0.6")
    colors = plt.cm.tab10(np.arange(n_components))
    for mean, covariance, weight, color in zip(
        gmm.means_, gmm.covariances_, gmm.weights_, colors, strict=True
    ):
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        angle = np.degrees(np.arctan2(eigenvectors[1, 1], eigenvectors[0, 1]))
        for n_std in (1, 2):
            width, height = 2 * n_std * np.sqrt(eigenvalues[::-1])
            ax.add_patch(
                Ellipse(mean, width, height, angle=angle, fill=False, color=color, lw=2)
            )
        ax.plot(*mean, "+", color=color, ms=10, mew=2)
        ax.annotate(f"{weight:.2f}", mean, xytext=(5, 5), textcoords="offset points")
    ax.set_title(title)
    ax.set_aspect("equal")


fig, axes = plt.subplots(1, 2, figsize=(10, 5), sharex=True, sharey=True)
sample = X[:: X.shape[0] // 3000]  # 3,000 rows across the file
draw_components(axes[0], ooc, sample, "OOCGaussianMixture (memory map)")
draw_components(axes[1], reference, sample, "sklearn GaussianMixture (in memory)")
fig.suptitle(f"Largest parameter difference {difference:.1e}")
fig.tight_layout()

# %%
# The file is no longer needed.

del X
os.remove(path)
os.rmdir(directory)

plt.show()
