"""
Ridge regression from a file on disk
====================================

Write a regression problem to a ``.npy`` file chunk by chunk, fit
:class:`~sklearn_ooc.linear_model.StreamingRidge` from it as a memory map with
small batches, and compare with scikit-learn's ``Ridge`` fitted in memory.
"""

import os
import tempfile

import numpy as np
from sklearn.linear_model import Ridge

from sklearn_ooc.io import write_regression
from sklearn_ooc.linear_model import StreamingRidge

directory = tempfile.mkdtemp()
X_path, y_path = os.path.join(directory, "X.npy"), os.path.join(directory, "y.npy")
write_regression(X_path, y_path, 200_000, 20, offset=1e6, random_state=0)

X = np.load(X_path, mmap_mode="r")
y = np.load(y_path, mmap_mode="r")
model = StreamingRidge(alpha=1.0, n_jobs=2).fit(X, y, batch_size=10_000)

reference = Ridge(alpha=1.0, solver="cholesky").fit(np.asarray(X), np.asarray(y))
print("largest coefficient difference:", np.abs(model.coef_ - reference.coef_).max())
print("R^2 on the file, streamed:", model.score(X, y))

os.remove(X_path)
os.remove(y_path)
os.rmdir(directory)
