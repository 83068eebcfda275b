"""
Ridge regression from a file on disk
====================================

Write a regression problem to a ``.npy`` file chunk by chunk, fit
:class:`~sklearn_ooc.linear_model.StreamingRidge` from it as a memory map with
small batches, and compare with scikit-learn's ``Ridge`` fitted in memory.
"""

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import Ridge

from sklearn_ooc.io import write_regression
from sklearn_ooc.linear_model import StreamingRidge

# %%
# The data
# --------
#
# 200,000 rows of 20 features, written 65,536 rows at a time. Every feature is
# offset by one million: data far from the origin, as timestamps or
# coordinates often are, are the hard case for accumulating sums in floating
# point.

directory = tempfile.mkdtemp()
X_path, y_path = os.path.join(directory, "X.npy"), os.path.join(directory, "y.npy")
write_regression(X_path, y_path, 200_000, 20, offset=1e6, random_state=0)

X = np.load(X_path, mmap_mode="r")
y = np.load(y_path, mmap_mode="r")

# %%
# Fit from the memory map, 10,000 rows at a time
# ----------------------------------------------
#
# One pass over the file accumulates the centered cross-products of ``[X, y]``
# batch by batch; the coefficients are then solved for in closed form. The
# reference is scikit-learn's ``Ridge`` on the whole array in memory.

model = StreamingRidge(alpha=1.0, n_jobs=2).fit(X, y, batch_size=10_000)

reference = Ridge(alpha=1.0, solver="cholesky").fit(np.asarray(X), np.asarray(y))
print("largest coefficient difference:", np.abs(model.coef_ - reference.coef_).max())
print("R^2 on the file, streamed:", model.score(X, y))

# %%
# Why centered statistics
# -----------------------
#
# The obvious way to fit ridge regression from batches is to add up ``X.T @ X``
# and ``X.T @ y`` over the batches and solve the normal equations at the end.
# With features near one million, the entries of ``X.T @ X`` are near
# ``n * 1e12``, and double precision keeps about 16 significant digits: most
# of the digits that describe the spread of the data, which is what the
# coefficients depend on, are rounded away. :class:`StreamingRidge` instead
# keeps each batch's sums about its own mean and merges them with the
# corrections of Chan et al., so nothing large is ever added to something
# small. The plot shows the largest coefficient difference from scikit-learn
# for several batch sizes, and for the naive sums.

differences = {}
for batch_size in (1_000, 10_000, 100_000):
    fitted = StreamingRidge(alpha=1.0).fit(X, y, batch_size=batch_size)
    differences[f"StreamingRidge\nbatch {batch_size:,}"] = np.abs(
        fitted.coef_ - reference.coef_
    ).max()

n_features = X.shape[1]
gram = np.zeros((n_features + 1, n_features + 1))
moment = np.zeros(n_features + 1)
for start in range(0, X.shape[0], 10_000):
    batch = np.asarray(X[start : start + 10_000])
    batch = np.hstack([batch, np.ones((batch.shape[0], 1))])  # intercept column
    gram += batch.T @ batch
    moment += batch.T @ y[start : start + 10_000]
penalty = np.eye(n_features + 1)
penalty[-1, -1] = 0.0  # the intercept is not penalized
naive = np.linalg.solve(gram + 1.0 * penalty, moment)[:-1]
differences["naive sums\nbatch 10,000"] = np.abs(naive - reference.coef_).max()
print(
    "naive normal equations, largest difference:",
    differences["naive sums\nbatch 10,000"],
)

fig, ax = plt.subplots(figsize=(7, 4))
ax.bar(list(differences), list(differences.values()), color=["C0"] * 3 + ["C3"])
ax.set_yscale("log")
ax.set_ylabel("largest coefficient difference\nfrom sklearn Ridge")
ax.set_title("Ridge regression on data offset by 1e6")
fig.tight_layout()

# %%
# The coefficients from the file match scikit-learn's to about 1e-14, whatever
# the batch size, while the naive sums are off in the third digit: an error
# several times the statistical uncertainty of the coefficients (about 0.002
# here, the noise over the square root of the number of rows), made by the
# arithmetic alone.

del X, y
os.remove(X_path)
os.remove(y_path)
os.rmdir(directory)

plt.show()
