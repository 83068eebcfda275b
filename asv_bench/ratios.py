"""Print the ratio tables: ours / references, from one asv run or one process.

Every benchmark module times sklearn_ooc and the reference it replaces in the
same suite. After a run that saves its results::

    cd asv_bench
    asv run --python=same --quick --set-commit-hash=$(git rev-parse HEAD)
    python ratios.py              # the newest results file
    python ratios.py results/<machine>/<file>.json

prints one row per pair and parameter value: our figure, the reference's, and
their ratio (below 1: ours takes less time or memory). Pairs whose results
are missing (a benchmark that failed, timed out or was skipped) are listed as
such, never silently dropped.

``python ratios.py --run`` instead runs issue 17's workloads here, in this
process, each on its cached ``.npy`` file (written under the asv data
directory, ``$SKLEARN_OOC_BENCH_DATA`` or ``~/.cache/sklearn_ooc_bench``, if
missing: about 6 GB at full size), and prints per workload the best of
``--repeat`` (3) times of ours (from the page-cached memory map, n_jobs=2),
scikit-learn's and scikit-learn-intelex's (on the array loaded in memory),
the ratio ours / sklearnex, and the floor: the larger of the time to read
the file from the page cache and the time of the workload's flops at this
machine's peak GEMM rate, both measured here (numpy's matrix product; the
GEMM rate of the workload's dtype), and its share of our time. Then the
cold-data rows: one iteration from the file just evicted from the page
cache, the cold read of the file and the warm iteration (target: cold
iteration <= 1.1 x max(cold read, warm iteration))::

    python ratios.py --run                 # the issue's sizes
    python ratios.py --run --scale 0.1     # a tenth of the rows
    python ratios.py --run --only kmeans ridge cold-ridge

sklearnex's column reads ``absent`` where it is not installed (or
``SKLEARN_OOC_BENCH_NO_SKLEARNEX`` is set), ``n/a`` where it has no such
estimator (GaussianMixture).
"""

from __future__ import annotations

import argparse
import gc
import glob
import itertools
import json
import math
import os
import sys
import time
import warnings

# (what is compared, our benchmark, the reference benchmark); names are asv's
# "module.Class.method". A benchmark with parameters gives one row per value;
# a reference without parameters is compared with each of them.
PAIRS = [
    (
        "Mixed-column pipeline fit from Parquet vs scikit-learn on the DataFrame",
        "pipeline.MixedPipeline.time_fit",
        "pipeline.MixedPipelineReference.time_fit",
    ),
    (
        "Mixed-column pipeline fit, peak memory",
        "pipeline.MixedPipeline.peakmem_fit",
        "pipeline.MixedPipelineReference.peakmem_fit",
    ),
    (
        "Ridge fit from Parquet vs .npy (target < 2)",
        "tables.RidgeFromTable.time_fit",
        "tables.RidgeFromNpy.time_fit",
    ),
    (
        "Ridge fit from Parquet vs .npy, peak memory",
        "tables.RidgeFromTable.peakmem_fit",
        "tables.RidgeFromNpy.peakmem_fit",
    ),
    (
        "Parquet table into batches vs .npy",
        "tables.TableBatches.time_batches",
        "tables.NpyBatches.time_batches",
    ),
    (
        "Ridge fit, page-cached memmap vs sklearn Ridge in memory",
        "linear_model.RidgeSuite.time_fit",
        "linear_model.ReferenceSuite.time_sklearn_ridge_cholesky",
    ),
    (
        "Ridge fit vs sklearnex Ridge in memory (where installed)",
        "linear_model.RidgeSuite.time_fit",
        "linear_model.SklearnexRidge.time_sklearnex_ridge",
    ),
    (
        "Ridge fit, peak memory vs sklearnex (where installed)",
        "linear_model.RidgeSuite.peakmem_fit",
        "linear_model.SklearnexRidge.peakmem_sklearnex_ridge",
    ),
    (
        "Logistic regression (tol 1e-8) vs sklearn newton-cholesky in memory",
        "linear_model.LogisticFit.time_ours_n_jobs_2",
        "linear_model.LogisticFit.time_sklearn_newton_cholesky",
    ),
    (
        "Logistic regression (tol 1e-8) vs sklearnex lbfgs (where installed)",
        "linear_model.LogisticFit.time_ours_n_jobs_2",
        "linear_model.SklearnexLogistic.time_sklearnex_lbfgs",
    ),
    (
        "Ridge fit vs numpy X.T @ X in memory",
        "linear_model.RidgeSuite.time_fit",
        "linear_model.ReferenceSuite.time_numpy_gram",
    ),
    (
        "Ridge fit, peak memory",
        "linear_model.RidgeSuite.peakmem_fit",
        "linear_model.ReferenceSuite.peakmem_sklearn_ridge_cholesky",
    ),
    (
        "GMM, one EM iteration vs sklearn E+M step",
        "mixture.MixtureIteration.time_iteration",
        "mixture.SklearnMixtureIteration.time_iteration",
    ),
    (
        "GMM, one EM iteration, peak memory",
        "mixture.MixtureIteration.peakmem_iteration",
        "mixture.SklearnMixtureIteration.peakmem_iteration",
    ),
    (
        "GMM, one EM iteration, float32 file vs float64 file",
        "mixture.MixtureIterationFloat32.time_iteration",
        "mixture.MixtureIteration.time_iteration",
    ),
    (
        "GMM on the seed's blobs, 5 iterations",
        "mixture.SeedBlobs.time_ours_first_k_5_iterations",
        "mixture.SeedBlobs.time_sklearn_same_start_5_iterations",
    ),
    (
        "GMM on the seed's blobs vs pomegranate 1.x batched (where installed)",
        "mixture.SeedBlobs.time_ours_first_k_5_iterations",
        "mixture.PomegranateSeedBlobs.time_pomegranate_batched_5_iterations",
    ),
    (
        "KMeans, 5 Lloyd iterations",
        "cluster_decomposition.KMeansIteration.time_ours_5_iterations",
        "cluster_decomposition.KMeansIteration.time_sklearn_5_iterations",
    ),
    (
        "KMeans, one Lloyd iteration vs sklearn's Lloyd step, median",
        "cluster_decomposition.KMeansIteration.track_ours_seconds_per_iteration",
        "cluster_decomposition.KMeansIteration.track_sklearn_seconds_per_iteration",
    ),
    (
        "KMeans, one Lloyd iteration vs sklearnex (where installed)",
        "cluster_decomposition.KMeansIteration.track_ours_seconds_per_iteration",
        "cluster_decomposition.SklearnexKMeans.track_sklearnex_seconds_per_iteration",
    ),
    (
        "PCA fit (n_jobs=2) vs sklearn PCA in memory",
        "cluster_decomposition.PCAFit.time_ours_n_jobs_2",
        "cluster_decomposition.PCAFit.time_sklearn_pca",
    ),
    (
        "PCA fit (n_jobs=2) vs sklearnex PCA in memory (where installed)",
        "cluster_decomposition.PCAFit.time_ours_n_jobs_2",
        "cluster_decomposition.SklearnexPCAFit.time_sklearnex_pca",
    ),
    (
        "PCA fit (n_jobs=2) vs numpy X.T @ X",
        "cluster_decomposition.PCAFit.time_ours_n_jobs_2",
        "cluster_decomposition.PCAFit.time_numpy_gram",
    ),
    (
        "Ridge fit, float32 file vs sklearnex on the float32 array (where installed)",
        "linear_model.RidgeFloat32.time_ours_n_jobs_2",
        "linear_model.SklearnexRidgeFloat32.time_sklearnex_ridge",
    ),
    (
        "PCA fit, float32 file vs sklearnex on the float32 array (where installed)",
        "cluster_decomposition.PCAFitFloat32.time_ours_n_jobs_2",
        "cluster_decomposition.SklearnexPCAFitFloat32.time_sklearnex_pca",
    ),
    (
        "StreamingRidgeCV vs one StreamingRidge fit",
        "model_selection.RidgeCVOnePass.time_streaming_ridge_cv",
        "model_selection.RidgeCVOnePass.time_streaming_ridge_single_fit",
    ),
    (
        "StreamingRidgeCV vs GridSearchCV(Ridge) in memory",
        "model_selection.RidgeCVOnePass.time_streaming_ridge_cv",
        "model_selection.RidgeCVOnePass.time_sklearn_grid_search_ridge",
    ),
    (
        "GridSearchCV peak memory, LazyArray vs plain memmap",
        "model_selection.GridSearchMemory.peakmem_grid_search_lazy_array",
        "model_selection.GridSearchMemory.peakmem_grid_search_plain_memmap",
    ),
    (
        "SGD epoch vs sklearn partial_fit, same minibatches",
        "sgd.SGDEpoch.time_streaming_sgd_epoch",
        "sgd.SGDEpoch.time_sklearn_partial_fit_same_batches",
    ),
    (
        "shuffle_on_disk vs copying the file",
        "sgd.Shuffle.time_shuffle_on_disk",
        "sgd.Shuffle.time_copyfile",
    ),
    (
        "shuffle_on_disk vs copying the file and fsync",
        "sgd.Shuffle.time_shuffle_on_disk",
        "sgd.Shuffle.time_copyfile_fsync",
    ),
    (
        "shuffle_on_disk vs copying the file, 12 GB",
        "sgd.ShuffleBeyondCache.time_shuffle_on_disk",
        "sgd.ShuffleBeyondCache.time_copyfile",
    ),
    (
        "Cold iteration vs the same iteration warm (file evicted)",
        "cold.ColdIteration.track_cold_iteration_seconds",
        "cold.ColdIteration.track_warm_iteration_seconds",
    ),
    (
        "Cold iteration vs reading the file cold",
        "cold.ColdIteration.track_cold_iteration_seconds",
        "cold.ColdIteration.track_cold_read_seconds",
    ),
    (
        "KernelRidge, Cholesky vs sklearn",
        "kernel_ridge.MediumKernel.time_ours_cholesky",
        "kernel_ridge.MediumKernel.time_sklearn",
    ),
    (
        "KernelRidge, CG (kernel recomputed) vs sklearn",
        "kernel_ridge.MediumKernel.time_ours_cg",
        "kernel_ridge.MediumKernel.time_sklearn",
    ),
    (
        "KernelRidge, Cholesky, peak memory",
        "kernel_ridge.MediumKernel.peakmem_ours_cholesky",
        "kernel_ridge.MediumKernel.peakmem_sklearn",
    ),
    (
        "KernelRidge, CG, peak memory",
        "kernel_ridge.MediumKernel.peakmem_ours_cg",
        "kernel_ridge.MediumKernel.peakmem_sklearn",
    ),
]


def load(path):
    """``{benchmark: [(parameter values, result), ...]}`` from a results file."""
    with open(path) as f:
        data = json.load(f)
    columns = data["result_columns"]
    table = {}
    for name, row in data["results"].items():
        # asv leaves out the trailing columns a result does not have.
        entry = dict(zip(columns, row, strict=False))
        values = entry.get("result")
        if values is None:
            continue
        combos = list(itertools.product(*(entry.get("params") or [])))
        if not combos or combos == [()]:
            combos = [()]
        table[name] = list(zip(combos, values, strict=True))
    return table


def _format(name, value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "failed"
    if ".peakmem_" in name:
        return f"{value / 2**20:,.0f} MiB"
    if value < 1:
        return f"{value * 1000:.3g} ms"
    return f"{value:.3g} s"


def rows(table):
    """The rows of the ratio table: (label, parameters, ours, reference, ratio)."""
    out = []
    for label, ours, reference in PAIRS:
        if ours not in table or reference not in table:
            missing = [n for n in (ours, reference) if n not in table]
            out.append((label, "", "missing", ", ".join(missing), ""))
            continue
        references = dict(table[reference])
        for params, value in table[ours]:
            ref = references.get(params, references.get(()))
            if ref is None and len(references) == 1:
                ref = next(iter(references.values()))
            ratio = ""
            if value is not None and ref:
                ratio = f"{value / ref:.3g}"
            out.append(
                (
                    label,
                    ", ".join(str(p) for p in params),
                    _format(ours, value),
                    _format(reference, ref),
                    ratio,
                )
            )
    return out


def newest_results(directory):
    """The newest results file under ``directory`` (asv's results_dir)."""
    files = [
        path
        for path in glob.glob(os.path.join(directory, "*", "*.json"))
        if os.path.basename(path) != "machine.json"
    ]
    if not files:
        raise SystemExit(
            f"no asv results under {directory!r}: run "
            "'asv run --python=same --quick --set-commit-hash=$(git rev-parse HEAD)' "
            "in asv_bench first"
        )
    return max(files, key=os.path.getmtime)


# -- issue 17's workloads, in this process ------------------------------------

HERE = os.path.dirname(os.path.abspath(__file__))


def _benchmarks():
    """The asv benchmark package (its data files and helpers)."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import benchmarks.common

    return benchmarks.common


def _rows(n, scale):
    return max(1000, int(round(n * scale)))


def _best(run, repeat):
    """The best of ``repeat`` times of ``run()``; seconds."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


class Machine:
    """The floors' rates, measured here: numpy's GEMM and page-cache reads.

    The GEMM rates are measured at the start and at the end of the run and
    the larger kept (the machine may be busy with other work).
    """

    def __init__(self, gemm_size=2048):
        self.gemm = {}
        self.gemm_size = gemm_size
        self.measure()

    def measure(self):
        import numpy as np

        common = _benchmarks()
        for dtype in (np.float64, np.float32):
            rate = common.gemm_flops_per_second(dtype, size=self.gemm_size)
            name = np.dtype(dtype).name
            self.gemm[name] = max(self.gemm.get(name, 0.0), rate)

    def floor(self, X, flops, passes=1):
        """What the floor of a workload over the memmap ``X`` is made of."""
        return {
            "read": _benchmarks().read_seconds(X),
            "bytes": X.nbytes,
            "flops": float(flops),
            "passes": passes,
            "dtype": X.dtype.name,
        }

    def finish(self, part):
        """``part`` with its floor in seconds: passes x max(read, flops at peak)."""
        compute = part["flops"] / self.gemm[part["dtype"]]
        part["compute"] = compute
        part["seconds"] = part["passes"] * max(part["read"], compute)
        part["basis"] = (
            f"{part['passes']} x max(read {part['bytes'] / 1e9:.3g} GB "
            f"{_seconds(part['read'])}, {part['flops'] / 1e9:.3g} GFLOP "
            f"{_seconds(compute)})"
        )
        return part


def _sklearnex(name):
    """``sklearnex.<name>`` or None where absent (or switched off)."""
    try:
        return _benchmarks().sklearnex_module(name)
    except NotImplementedError:
        return None


def _gmm(scale, repeat, machine, dtype_name):
    import numpy as np
    from sklearn.mixture import GaussianMixture

    from sklearn_ooc.mixture import OOCGaussianMixture

    common = _benchmarks()
    n, d, k = _rows(5_000_000, scale), 50, 3
    dtype = np.dtype(dtype_name)
    path = common.mixture_file(n, d, k, dtype=dtype)
    X = common.page_cached(path)
    rng = np.random.RandomState(0)
    start = {
        "weights_init": np.full(k, 1.0 / k),
        "means_init": np.asarray(X[np.sort(rng.choice(n, k, replace=False))]),
        "precisions_init": np.array([np.eye(d)] * k),
    }
    OOCGaussianMixture(k, max_iter=1, **start).fit(X[:1000])
    ours = _best(
        lambda: OOCGaussianMixture(k, max_iter=1, tol=0.0, n_jobs=2, **start).fit(X),
        repeat,
    )
    floor = machine.floor(X, 4.0 * n * k * d * d)
    del X
    X = np.load(path)
    model = GaussianMixture(k, max_iter=1, **start).fit(X[:1000])

    def sklearn_iteration():
        _, log_resp = model._e_step(X)
        model._m_step(X, log_resp)

    reference = _best(sklearn_iteration, repeat)
    return {
        "workload": f"GMM k={k} full, one EM iteration, {dtype.name}",
        "shape": (n, d),
        "ours": ours,
        "sklearn": reference,
        "sklearnex": "n/a",
        "floor": floor,
    }


def _blobs(scale, repeat, machine):
    import numpy as np
    from sklearn.mixture import GaussianMixture

    from sklearn_ooc.mixture import OOCGaussianMixture

    common = _benchmarks()
    n, d, k = _rows(557_100, scale), 25, 4
    path = common.blobs_file(n, d, k, 4.0)
    X = common.page_cached(path)
    OOCGaussianMixture(k, init_params="first-k", max_iter=1).fit(X[:1000])
    ours = _best(
        lambda: OOCGaussianMixture(
            k, init_params="first-k", max_iter=5, tol=0.0, batch_size=10_000, n_jobs=2
        ).fit(X),
        repeat,
    )
    floor = machine.floor(X, 4.0 * n * k * d * d)
    X_memory = np.load(path)
    start = {
        "weights_init": np.full(k, 1.0 / k),
        "means_init": X_memory[:k],
        "precisions_init": np.array([np.eye(d) * 1e6] * k),
    }
    reference = _best(
        lambda: GaussianMixture(k, max_iter=5, tol=0.0, **start).fit(X_memory),
        repeat,
    )
    return {
        "workload": "GMM seed blobs k=4, batch 10,000, per iteration",
        "shape": (n, d),
        "ours": ours / 5,
        "sklearn": reference / 5,
        "sklearnex": "n/a",
        "floor": floor,
    }


def _kmeans(scale, repeat, machine):
    import numpy as np

    from sklearn_ooc.cluster import OOCKMeans

    common = _benchmarks()
    n, d, k = _rows(5_000_000, scale), 50, 8
    path = common.mixture_file(n, d, 3)
    X = common.page_cached(path)
    init = np.asarray(X[:k], dtype=np.float64)
    OOCKMeans(k, init=init, max_iter=1).fit(X[:1000])

    ours = math.inf
    for _ in range(repeat):
        model = OOCKMeans(k, init=init, max_iter=6, tol=0.0, n_jobs=2).fit(X)
        ours = min(ours, float(np.median(model._iteration_seconds[1:])))
    floor = machine.floor(X, 2.0 * n * k * d)
    del X
    X = np.load(path)

    reference = None
    try:
        from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense
    except ImportError:  # a private function: gone in some release
        pass
    else:
        centers, new_centers = init.copy(), np.empty_like(init)
        weights, labels = np.ones(n), np.empty(n, dtype=np.int32)
        in_cluster, shift = np.empty(k), np.empty(k)
        reference = math.inf
        for _ in range(max(repeat, 3)):
            start = time.perf_counter()
            lloyd_iter_chunked_dense(
                X, weights, centers, new_centers, in_cluster, labels, shift, 2
            )
            reference = min(reference, time.perf_counter() - start)
            centers, new_centers = new_centers, centers

    cluster = _sklearnex("cluster")
    if cluster is None:
        theirs = "absent"
    else:

        def fit(max_iter):
            return cluster.KMeans(
                k, init=init, n_init=1, max_iter=max_iter, tol=0.0, algorithm="lloyd"
            ).fit(X)

        fit(1)
        # Per iteration: fits of 6 and 1 iterations differ by 5 iterations.
        theirs = max(
            0.0, (_best(lambda: fit(6), repeat) - _best(lambda: fit(1), repeat))
        )
        theirs /= 5
    return {
        "workload": f"KMeans k={k}, per Lloyd iteration",
        "shape": (n, d),
        "ours": ours,
        "sklearn": reference,
        "sklearnex": theirs,
        "floor": floor,
    }


def _problem_files(n, d, dtype_name):
    """The cached regression problem's paths, float64 or float32."""
    common = _benchmarks()
    if dtype_name == "float32":
        return common.float32_regression_file(n, d)
    return common.regression_files(n, d)


def _from_file(dtype_name):
    """What a workload's name says of its file: nothing for float64."""
    return "" if dtype_name == "float64" else f", {dtype_name} file"


def _regression(scale, repeat, machine, kind, dtype_name="float64"):
    """A one-pass regression fit: ``kind`` "ridge" (moments: ``n d^2``
    flops of syrk) or "linear" (Householder QR: ``2 n d^2`` flops), from
    the float64 or the float32 file (the references on the same array)."""
    import numpy as np
    from sklearn import linear_model as sklearn_linear

    from sklearn_ooc import linear_model as ours_linear

    reference_name, ours_name, flops_per_row = {
        "ridge": ("Ridge", "StreamingRidge", 1),
        "linear": ("LinearRegression", "StreamingLinearRegression", 2),
    }[kind]
    Reference = getattr(sklearn_linear, reference_name)
    Ours = getattr(ours_linear, ours_name)
    common = _benchmarks()
    n, d = _rows(2_000_000, scale), 100
    X_path, y_path = _problem_files(n, d, dtype_name)
    X, y = common.page_cached(X_path), np.load(y_path)
    Ours().fit(X[:100], y[:100])
    ours = _best(lambda: Ours(n_jobs=2).fit(X, y), repeat)
    floor = machine.floor(X, float(n) * d * d * flops_per_row)
    del X
    X = np.load(X_path)
    reference = _best(lambda: Reference().fit(X, y), repeat)
    linear_model = _sklearnex("linear_model")
    theirs = "absent"
    if linear_model is not None:
        Theirs = getattr(linear_model, reference_name)
        Theirs().fit(X[:100], y[:100])
        theirs = _best(lambda: Theirs().fit(X, y), repeat)
    return {
        "workload": f"{ours_name} fit{_from_file(dtype_name)}",
        "shape": (n, d),
        "ours": ours,
        "sklearn": reference,
        "sklearnex": theirs,
        "floor": floor,
    }


def _pca(scale, repeat, machine, dtype_name="float64"):
    import numpy as np
    from sklearn.decomposition import PCA

    from sklearn_ooc.decomposition import OOCPCA

    common = _benchmarks()
    n, d = _rows(2_000_000, scale), 100
    X_path, _ = _problem_files(n, d, dtype_name)
    X = common.page_cached(X_path)
    OOCPCA(5).fit(X[:1000])
    ours = _best(lambda: OOCPCA(10, n_jobs=2).fit(X), repeat)
    floor = machine.floor(X, float(n) * d * d)
    del X
    X = np.load(X_path)
    reference = _best(lambda: PCA(10).fit(X), repeat)
    decomposition = _sklearnex("decomposition")
    theirs = "absent"
    if decomposition is not None:
        decomposition.PCA(5).fit(X[:1000])
        theirs = _best(lambda: decomposition.PCA(10).fit(X), repeat)
    return {
        "workload": f"OOCPCA fit, 10 components{_from_file(dtype_name)}",
        "shape": (n, d),
        "ours": ours,
        "sklearn": reference,
        "sklearnex": theirs,
        "floor": floor,
    }


def _logistic(scale, repeat, machine):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from sklearn_ooc.linear_model import StreamingLogisticRegression

    common = _benchmarks()
    n, d = _rows(1_000_000, scale), 100
    X_path, y_path = common.classification_files(n, d)
    X, y = common.page_cached(X_path), np.load(y_path)
    StreamingLogisticRegression().fit(X[:1000], y[:1000])
    passes = []

    def ours_fit():
        model = StreamingLogisticRegression(tol=1e-8, n_jobs=2).fit(X, y)
        passes.append(int(model.n_iter_[0]))

    ours = _best(ours_fit, repeat)
    # A Newton pass: the Hessian X.T @ diag(w) @ X (n d^2 flops as syrk).
    floor = machine.floor(X, float(n) * d * d, passes=passes[-1])
    del X
    X = np.load(X_path)
    reference = _best(
        lambda: LogisticRegression(solver="newton-cholesky", tol=1e-8).fit(X, y),
        repeat,
    )
    linear_model = _sklearnex("linear_model")
    theirs = "absent"
    if linear_model is not None:
        linear_model.LogisticRegression().fit(X[:1000], y[:1000])
        theirs = _best(
            lambda: linear_model.LogisticRegression(tol=1e-8).fit(X, y), repeat
        )
    return {
        "workload": f"StreamingLogisticRegression tol 1e-8 ({passes[-1]} passes)",
        "shape": (n, d),
        "ours": ours,
        "sklearn": reference,
        "sklearnex": theirs,
        "floor": floor,
    }


def _cold(scale, repeat, machine, workload):
    import numpy as np

    _benchmarks()
    from benchmarks.cold import iteration

    common = _benchmarks()
    n, d = _rows(2_000_000, scale), 100
    X_path, y_path = common.cold_regression_files(n, d)
    y = np.load(y_path)
    head = np.load(X_path, mmap_mode="r")
    init = np.array(head[:8], dtype=np.float64)
    del head
    run = iteration(workload, y, init)
    iteration(workload, y[:1000], init)(np.array(np.load(X_path, mmap_mode="r")[:1000]))
    gc.collect()
    cold, resident = math.inf, 0.0
    for _ in range(repeat):
        seconds, left = common.cold_run_seconds(X_path, run)
        cold, resident = min(cold, seconds), max(resident, left)
    read = min(common.cold_read_seconds(X_path) for _ in range(repeat))
    warm = common.warm_run_seconds(X_path, run, repeat)
    gc.collect()
    name = {
        "ridge": "StreamingRidge fit (one pass)",
        "kmeans": "OOCKMeans k=8, one Lloyd iteration",
    }[workload]
    return {
        "workload": name,
        "shape": (n, d),
        "cold": cold,
        "read": read,
        "warm": warm,
        "resident": resident,
    }


WORKLOADS = {
    "gmm": lambda s, r, m: _gmm(s, r, m, "float64"),
    "gmm32": lambda s, r, m: _gmm(s, r, m, "float32"),
    "blobs": _blobs,
    "kmeans": _kmeans,
    "ridge": lambda s, r, m: _regression(s, r, m, "ridge"),
    "linear": lambda s, r, m: _regression(s, r, m, "linear"),
    "pca": _pca,
    "ridge32": lambda s, r, m: _regression(s, r, m, "ridge", "float32"),
    "pca32": lambda s, r, m: _pca(s, r, m, "float32"),
    "logistic": _logistic,
    "cold-ridge": lambda s, r, m: _cold(s, r, m, "ridge"),
    "cold-kmeans": lambda s, r, m: _cold(s, r, m, "kmeans"),
}


def _seconds(value):
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "failed"
    if value < 1:
        return f"{value * 1000:.3g} ms"
    return f"{value:.3g} s"


def _print_table(header, table):
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *table]:
        print(
            "  ".join(
                str(c).ljust(w) for c, w in zip(row, widths, strict=True)
            ).rstrip()
        )


def run_workloads(names, scale, repeat):
    """Run the workloads ``names``; their results (a list of dicts)."""
    import numpy as np

    warnings.simplefilter("ignore")
    # Below a twentieth of the sizes (a smoke test), a smaller product: its
    # rate is below the peak, the floors are overstated.
    machine = Machine(2048 if scale >= 0.05 else 512)
    results = []
    for name in names:
        result = WORKLOADS[name](scale, repeat, machine)
        result["name"] = name
        results.append(result)
        gc.collect()
    machine.measure()
    for result in results:
        if "floor" in result:
            machine.finish(result["floor"])
    return {
        "scale": scale,
        "repeat": repeat,
        "gemm_flops_per_second": dict(machine.gemm),
        "numpy": np.__version__,
        "sklearnex": _sklearnex_version(),
        "results": results,
    }


def _sklearnex_version():
    if _sklearnex("linear_model") is None:
        return None
    from importlib.metadata import version

    return version("scikit-learn-intelex")


def print_workloads(report):
    gemm = report["gemm_flops_per_second"]
    print(
        f"scale {report['scale']:g}, best of {report['repeat']}; "
        f"numpy GEMM: float64 {gemm['float64'] / 1e9:.0f} GFLOP/s, "
        f"float32 {gemm['float32'] / 1e9:.0f} GFLOP/s"
    )
    version = report["sklearnex"]
    print(
        f"sklearnex: {version}"
        if version
        else "sklearnex: absent (not installed, or SKLEARN_OOC_BENCH_NO_SKLEARNEX)"
    )
    warm = [r for r in report["results"] if "ours" in r]
    cold = [r for r in report["results"] if "cold" in r]
    if warm:
        table = []
        for r in warm:
            floor, basis = r["floor"]["seconds"], r["floor"]["basis"]
            theirs = r["sklearnex"]
            ratio = (
                "-"
                if isinstance(theirs, str) or not theirs
                else f"{r['ours'] / theirs:.3g}"
            )
            table.append(
                (
                    r["workload"],
                    "{:,} x {}".format(*r["shape"]),
                    _seconds(r["ours"]),
                    _seconds(r["sklearn"]) if r["sklearn"] is not None else "-",
                    _seconds(theirs),
                    ratio,
                    _seconds(floor),
                    f"{100 * floor / r['ours']:.0f} %",
                    basis,
                )
            )
        print()
        _print_table(
            (
                "workload",
                "rows x cols",
                "ours",
                "scikit-learn",
                "sklearnex",
                "ours/sklearnex",
                "floor",
                "floor/ours",
                "floor basis",
            ),
            table,
        )
    if cold:
        table = []
        for r in cold:
            ratio = r["cold"] / max(r["read"], r["warm"])
            table.append(
                (
                    r["workload"],
                    "{:,} x {}".format(*r["shape"]),
                    _seconds(r["read"]),
                    _seconds(r["warm"]),
                    _seconds(r["cold"]),
                    f"{ratio:.3g}",
                    "yes" if ratio <= 1.1 else "no",
                    f"{100 * r['resident']:.0f} %",
                )
            )
        print()
        print("cold data: file evicted (fsync, POSIX_FADV_DONTNEED) before each run")
        _print_table(
            (
                "cold workload",
                "rows x cols",
                "cold read",
                "warm iteration",
                "cold iteration",
                "cold/max(read, warm)",
                "<= 1.1",
                "resident after eviction",
            ),
            table,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", help="an asv results .json file")
    parser.add_argument(
        "--run",
        action="store_true",
        help="run issue 17's workloads in this process instead of reading asv's",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="rows x SCALE (implies --run; default 1: the issue's sizes)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="the best of REPEAT times (default 3)"
    )
    parser.add_argument(
        "--only", nargs="+", choices=list(WORKLOADS), help="these workloads only"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.run or args.scale is not None or args.only:
        if args.results:
            parser.error("a results file is read without --run/--scale/--only")
        scale = 1.0 if args.scale is None else args.scale
        if not scale > 0 or args.repeat < 1:
            parser.error("--scale must be > 0 and --repeat >= 1")
        report = run_workloads(args.only or list(WORKLOADS), scale, args.repeat)
        print_workloads(report)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)
        return 0
    return print_asv(args.results)


def print_asv(results=None):
    """The ratio table of an asv results file (the newest by default)."""
    path = results or newest_results(os.path.join(HERE, "results"))
    table = rows(load(path))
    header = ("compared", "params", "ours", "reference", "ours/ref")
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(5)]
    print(f"results: {path}")
    for row in [header, tuple("-" * w for w in widths), *table]:
        print(
            "  ".join(
                str(c).ljust(w) for c, w in zip(row, widths, strict=True)
            ).rstrip()
        )

    return 0


if __name__ == "__main__":
    sys.exit(main())
