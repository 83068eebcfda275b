"""Print the ratio table (ours / reference) from one asv run.

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
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import math
import os
import sys

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
        "PCA fit (n_jobs=2) vs numpy X.T @ X",
        "cluster_decomposition.PCAFit.time_ours_n_jobs_2",
        "cluster_decomposition.PCAFit.time_numpy_gram",
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", help="an asv results .json file")
    args = parser.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    path = args.results or newest_results(os.path.join(here, "results"))
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


if __name__ == "__main__":
    sys.exit(main())
