"""
SGD on a sorted file: shuffling on disk
=======================================

Stochastic gradient descent assumes that consecutive minibatches are random
samples of the data. A file written class by class (or sorted by date, by
user, by target) breaks that assumption: reading it in order, the model sees
thousands of rows of one class, then thousands of another, and is pulled
towards whichever came last. This example trains
:class:`~sklearn_ooc.linear_model.StreamingSGDClassifier` on such a file with
the orders it offers and plots the validation accuracy after every epoch.
"""

import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import SGDClassifier

from sklearn_ooc.io import NpyWriter, shuffle_on_disk
from sklearn_ooc.linear_model import StreamingSGDClassifier

# %%
# A file sorted by class
# ----------------------
#
# Four overlapping Gaussian classes in 20 dimensions, 50,000 rows each,
# written to disk one class after the other, 10,000 rows at a time. A separate
# validation set of 8,000 rows, in random order, stays in memory.

rng = np.random.default_rng(0)
n_classes, n_features, rows_per_class = 4, 20, 50_000
centers = rng.normal(scale=0.4, size=(n_classes, n_features))
classes = np.arange(n_classes)

directory = tempfile.mkdtemp()
X_path, y_path = os.path.join(directory, "X.npy"), os.path.join(directory, "y.npy")
n_samples = n_classes * rows_per_class
with (
    NpyWriter(X_path, (n_samples, n_features)) as X_out,
    NpyWriter(y_path, (n_samples,), dtype=np.int64) as y_out,
):
    for label in classes:
        for _ in range(rows_per_class // 10_000):
            X_out.write(centers[label] + rng.normal(size=(10_000, n_features)))
            y_out.write(np.full(10_000, label))

y_valid = rng.integers(n_classes, size=8_000)
X_valid = centers[y_valid] + rng.normal(size=(8_000, n_features))

X = np.load(X_path, mmap_mode="r")
y = np.load(y_path, mmap_mode="r")

# %%
# Ways to read it
# ---------------
#
# The estimator takes scikit-learn's SGD step row by row, and reads the rows
# in blocks of ``buffer_mb`` megabytes (here 1 MB, about 6,000 rows, so a
# block holds a single class). The order of the rows is ``shuffle``'s:
#
# - ``shuffle=True`` (the default, scikit-learn's) reads the rows in
#   scikit-learn's own permutation, a new one every epoch, and so gives
#   :class:`~sklearn.linear_model.SGDClassifier`'s model; on a file that means
#   random reads, one block of positions at a time (see below);
# - ``shuffle=False`` reads the file in order;
# - ``shuffle='block'`` visits the blocks in a new random order every epoch
#   and shuffles the rows inside each block: sequential reads, but a block
#   still holds one class;
# - :func:`~sklearn_ooc.io.shuffle_on_disk` writes a uniformly shuffled copy
#   of the file first, in two sequential passes under a fixed memory buffer,
#   after which every block is a random sample of the whole data and the
#   file can be read in order.
#
# Each ``partial_fit`` call below is one epoch (with ``max_iter=1`` and
# ``tol=None``), and the validation accuracy is recorded after each. A
# ``RandomState`` instance, rather than an int, gives each epoch new random
# orders.

start = time.perf_counter()
X_shuffled_path, y_shuffled_path = shuffle_on_disk(
    X_path, y_path, out=os.path.join(directory, "shuffled"), buffer_mb=4, random_state=0
)
shuffle_time = time.perf_counter() - start
X_shuffled = np.load(X_shuffled_path, mmap_mode="r")
y_shuffled = np.load(y_shuffled_path, mmap_mode="r")

n_epochs = 8
settings = {
    "sorted file, read in order": (X, y, False),
    "sorted file, shuffle='block'": (X, y, "block"),
    "file shuffled on disk": (X_shuffled, y_shuffled, False),
}
curves = {}
for name, (X_train, y_train, shuffle) in settings.items():
    model = StreamingSGDClassifier(
        max_iter=1,
        tol=None,
        shuffle=shuffle,
        buffer_mb=1,
        random_state=np.random.RandomState(0),
    )
    curves[name] = []
    for _ in range(n_epochs):
        model.partial_fit(X_train, y_train, classes=classes)
        curves[name].append(model.score(X_valid, y_valid))
for name, curve in curves.items():
    print(
        f"{name}: validation accuracy {curve[-1]:.3f} after {n_epochs} epochs, "
        f"lowest {min(curve):.3f}"
    )
print(f"shuffle_on_disk took {shuffle_time:.2f} s")

# %%
# The same in one call
# --------------------
#
# ``shuffle='disk'`` does the shuffle inside ``fit``: it writes the shuffled
# copy to a temporary directory, trains on it and removes it. The reference
# is scikit-learn's :class:`~sklearn.linear_model.SGDClassifier` with the data
# in memory, shuffled at every epoch. ``shuffle=True`` reads the memory-mapped
# file in scikit-learn's order and gives that reference's coefficients, to
# rounding.

disk = StreamingSGDClassifier(
    max_iter=n_epochs, tol=None, shuffle="disk", buffer_mb=1, random_state=0
).fit(X, y)
disk_accuracy = disk.score(X_valid, y_valid)
print(f"shuffle='disk' in fit: validation accuracy {disk_accuracy:.3f}")
reference = SGDClassifier(random_state=0).fit(np.asarray(X), np.asarray(y))
reference_accuracy = reference.score(X_valid, y_valid)
print(f"sklearn SGDClassifier in memory: validation accuracy {reference_accuracy:.3f}")
exact = StreamingSGDClassifier(buffer_mb=1, random_state=0).fit(X, y)
difference = np.abs(exact.coef_ - reference.coef_).max()
print(
    f"shuffle=True, read from the file in scikit-learn's order: validation "
    f"accuracy {exact.score(X_valid, y_valid):.3f}, largest coefficient "
    f"difference from SGDClassifier {difference:.1e}"
)

# %%
# Learning curves
# ---------------
#
# Read in order, every epoch ends with 50,000 rows of the last class, and the
# model, pulled towards it each time, stays far behind. Shuffling the blocks
# does not help on this file: each block still holds a single class, so every
# epoch ends with thousands of rows of one class, and the accuracy moves from
# epoch to epoch with the class the last few blocks held. After the shuffle on
# disk, SGD reaches the accuracy of scikit-learn's in-memory SGD within the
# first epoch and stays there. The shuffle costs two sequential passes of
# reading and writing the file, once, before training; ``shuffle=True`` costs
# nothing up front but reads the file at random every epoch, which is fast
# from memory or an SSD and slow from a spinning disk.

fig, ax = plt.subplots(figsize=(7, 5))
epochs = np.arange(1, n_epochs + 1)
for name, curve in curves.items():
    ax.plot(epochs, curve, "o-", label=name)
ax.axhline(reference_accuracy, color="k", ls="--", lw=1, label="sklearn, in memory")
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy")
ax.set_title("StreamingSGDClassifier on a file sorted by class")
ax.legend(loc="lower right")
fig.tight_layout()

del X, y, X_shuffled, y_shuffled
for path in (X_path, y_path, X_shuffled_path, y_shuffled_path):
    os.remove(path)
os.rmdir(directory)

plt.show()
