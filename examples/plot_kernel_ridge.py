"""
Kernel ridge regression beyond the memory limit
===============================================

Kernel ridge regression solves ``(K + alpha I) c = y`` with ``K`` the
``n x n`` kernel matrix of the training rows: 8 n² bytes, 128 MB for 4,000
rows, 80 GB for 100,000. scikit-learn's
:class:`~sklearn.kernel_ridge.KernelRidge` builds ``K`` in memory and
factorizes it. :class:`~sklearn_ooc.kernel_ridge.OOCKernelRidge`, when ``K``
does not fit in ``memory_limit_mb``, solves the same system by conjugate
gradients: each iteration needs only the product ``K v``, which it computes
block of rows by block of rows, recomputing the kernel from the training rows
on every pass (``kernel_store='recompute'``), so ``K`` never exists whole.
"""

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.kernel_ridge import KernelRidge

from sklearn_ooc.kernel_ridge import OOCKernelRidge

# %%
# The data
# --------
#
# 4,000 noisy samples of a one-dimensional function, saved to a ``.npy`` file
# and opened as a memory map. Its kernel matrix takes 128 MB; the
# out-of-core estimator is allowed 16 MB for kernel blocks.

rng = np.random.default_rng(0)
n_samples = 4_000
X_train = rng.uniform(-3, 3, size=(n_samples, 1))
y = (
    np.sin(2 * X_train[:, 0])
    + 0.3 * X_train[:, 0]
    + rng.normal(scale=0.3, size=n_samples)
)

directory = tempfile.mkdtemp()
path = os.path.join(directory, "X.npy")
np.save(path, X_train)
del X_train
X = np.load(path, mmap_mode="r")
print(f"kernel matrix: {8 * n_samples**2 / 1e6:.0f} MB, memory limit: 16 MB")

# %%
# Both fits
# ---------
#
# Same kernel (RBF, ``gamma=1``) and penalty (``alpha=0.1``). ``solver='cg'``
# stops when the relative residual ``||(K + alpha I) c - y|| / ||y||`` is
# below ``tol=1e-10``. Its Nyström preconditioner, built from the kernel
# columns of 200 random rows, approximates ``K``; in one dimension, where the
# eigenvalues of an RBF kernel matrix fall off very fast, it captures nearly
# all of it, and conjugate gradients converge in a couple of passes (without
# it, ``n_preconditioner=0``, they need about forty).

params = dict(alpha=0.1, kernel="rbf", gamma=1.0)
ooc = OOCKernelRidge(
    **params,
    solver="cg",
    kernel_store="recompute",
    memory_limit_mb=16,
    random_state=0,
)
ooc.fit(X, y)
reference = KernelRidge(**params).fit(np.asarray(X), y)
print(
    f"conjugate gradients: {ooc.n_iter_} passes, "
    f"relative residual {ooc.residual_[0]:.1e}"
)

grid = np.linspace(-3, 3, 1_000)[:, np.newaxis]
ooc_prediction = ooc.predict(grid)
reference_prediction = reference.predict(grid)
difference = np.abs(ooc_prediction - reference_prediction)
print(f"largest prediction difference: {difference.max():.3g}")

# %%
# Predictions
# -----------
#
# The two fitted functions coincide (top); their difference (bottom) is at
# the level of rounding errors, far below the noise of the data or anything
# visible. Predicting is also streamed: the kernel between the new rows and
# the training rows, read from the memory map, is computed block by block.

fig, (top, bottom) = plt.subplots(
    2, 1, figsize=(7, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
)
sample = slice(None, None, 10)
top.scatter(X[sample, 0], y[sample], s=4, color="0.7", label="training rows (1 in 10)")
top.plot(grid[:, 0], reference_prediction, lw=4, alpha=0.5, label="sklearn KernelRidge")
top.plot(grid[:, 0], ooc_prediction, "k--", lw=1.5, label="OOCKernelRidge, solver='cg'")
top.set_ylabel("y")
top.legend(loc="upper left")
bottom.semilogy(grid[:, 0], difference + 1e-18, color="C3")
bottom.set_xlabel("x")
bottom.set_ylabel("|difference|")
fig.tight_layout()

del X
os.remove(path)
os.rmdir(directory)

plt.show()
