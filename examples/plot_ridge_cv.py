"""
Cross-validated ridge regression in one pass
============================================

Choosing the penalty of ridge regression by K-fold cross-validation normally
means fitting the model ``n_alphas * n_folds`` times, each fit reading all the
training rows: with the data on disk, that many passes over the file.
:class:`~sklearn_ooc.linear_model.StreamingRidgeCV` reads the file once. The
centered cross-products of each row go to the statistics of its test fold;
the training statistics of fold ``k`` are the merge of the other folds', and
the squared error of a model on fold ``k`` is a quadratic form in fold
``k``'s own statistics. Every alpha of every fold is then scored from these
small matrices alone. This example compares the scores with scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV` over
:class:`~sklearn.linear_model.Ridge`, with the same alphas and folds.
"""

import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_ooc.io import NpyWriter
from sklearn_ooc.linear_model import StreamingRidgeCV

# %%
# A problem where the penalty matters
# -----------------------------------
#
# With many features, small coefficients and noisy targets, least squares
# overfits and a well-chosen penalty helps. The rows are generated and written
# 1,000 at a time with :class:`~sklearn_ooc.io.NpyWriter`, which renames the
# file into place only when every row has been written.

n_samples, n_features = 4_000, 300
rng = np.random.default_rng(0)
true_coef = rng.normal(scale=0.1, size=n_features)

directory = tempfile.mkdtemp()
X_path, y_path = os.path.join(directory, "X.npy"), os.path.join(directory, "y.npy")
with (
    NpyWriter(X_path, (n_samples, n_features)) as X_out,
    NpyWriter(y_path, (n_samples,)) as y_out,
):
    for _ in range(n_samples // 1_000):
        X_chunk = rng.normal(size=(1_000, n_features))
        X_out.write(X_chunk)
        y_out.write(X_chunk @ true_coef + 5.0 + rng.normal(scale=2.0, size=1_000))

X = np.load(X_path, mmap_mode="r")
y = np.load(y_path, mmap_mode="r")

# %%
# One pass over the file, and scikit-learn's grid search
# -------------------------------------------------------
#
# ``cv=5`` means ``KFold(5)``: contiguous folds, no shuffling, the folds
# ``GridSearchCV`` uses for ``cv=5`` with a regressor. The grid search fits
# 11 alphas on 5 folds, 55 fits on the data in memory.

alphas = np.logspace(0, 5, 11)

start = time.perf_counter()
streaming = StreamingRidgeCV(alphas=alphas, cv=5, n_jobs=2).fit(X, y, batch_size=500)
streaming_time = time.perf_counter() - start

start = time.perf_counter()
search = GridSearchCV(
    Ridge(solver="cholesky"), {"alpha": alphas}, cv=KFold(5), scoring="r2"
).fit(np.asarray(X), np.asarray(y))
search_time = time.perf_counter() - start

ours = streaming.cv_results_["mean_test_score"]
theirs = search.cv_results_["mean_test_score"]
score_difference = np.abs(ours - theirs).max()
print(
    f"StreamingRidgeCV: one pass, {streaming_time:.2f} s; alpha_ = {streaming.alpha_:g}"
)
print(
    f"GridSearchCV(Ridge): 55 fits, {search_time:.2f} s; "
    f"best alpha = {search.best_params_['alpha']:g}"
)
print(f"largest CV score difference: {score_difference:.3g}")
coef_difference = np.abs(streaming.coef_ - search.best_estimator_.coef_).max()
print(f"largest coefficient difference of the refitted models: {coef_difference:.3g}")

# %%
# The cross-validation curve
# --------------------------
#
# The mean R² over the five test folds, with a band of one standard deviation
# across folds. Small penalties let the 300 coefficients fit the noise of
# 3,200 training rows; large ones shrink the coefficients towards zero and
# the score falls to zero. The one-pass scores lie on scikit-learn's to
# rounding, so both choose the same alpha, and the model refitted on all the
# rows is the same too.

fig, ax = plt.subplots(figsize=(7, 5))
std = search.cv_results_["std_test_score"]
ax.fill_between(alphas, theirs - std, theirs + std, color="C0", alpha=0.2)
ax.plot(alphas, theirs, "o-", color="C0", ms=9, label="GridSearchCV(Ridge), 55 fits")
ax.plot(alphas, ours, "x", color="C3", ms=9, mew=2, label="StreamingRidgeCV, one pass")
ax.axvline(
    streaming.alpha_, color="0.5", ls="--", label=f"alpha_ = {streaming.alpha_:g}"
)
ax.set_xscale("log")
ax.set_xlabel("alpha")
ax.set_ylabel("mean R² over 5 test folds")
ax.legend()
fig.tight_layout()

del X, y
os.remove(X_path)
os.remove(y_path)
os.rmdir(directory)

plt.show()
