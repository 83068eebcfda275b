"""The benchmark tools: ``asv_bench/ratios.py`` and the benchmarks' helpers.

``ratios.py --run`` is run at a tiny scale in a subprocess (its data files in
a temporary directory) and its output checked line by line: the figures are
not asserted (no timing asserts), their presence and format are. The
scikit-learn-intelex column is checked both where sklearnex is used and
where it is absent (simulated with ``SKLEARN_OOC_BENCH_NO_SKLEARNEX``).
"""

import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).parents[1]
ASV = ROOT / "asv_bench"
SCRIPT = ASV / "ratios.py"
NO_SKLEARNEX = "SKLEARN_OOC_BENCH_NO_SKLEARNEX"
WORKLOADS = ["kmeans", "ridge", "cold-ridge"]
TIME = r"\d[\d.e+-]* m?s"


def _has_sklearnex():
    return importlib.util.find_spec("sklearnex") is not None


def _ratios_module():
    spec = importlib.util.spec_from_file_location("_ratios_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The data files of the runs, written by the first."""
    return tmp_path_factory.mktemp("bench_data")


def _run(tmp_path, data_dir, *, without_sklearnex):
    env = dict(os.environ, SKLEARN_OOC_BENCH_DATA=str(data_dir))
    env.pop(NO_SKLEARNEX, None)
    if without_sklearnex:
        env[NO_SKLEARNEX] = "1"
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--scale", "0.0004", "--repeat", "1"]
        + ["--only", *WORKLOADS, "--json", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with open(out) as f:
        return result.stdout.splitlines(), json.load(f)


def _columns(line):
    return re.split(r"\s{2,}", line.strip())


def _table(lines, first_header):
    """The rows under the header line starting with ``first_header``."""
    start = next(i for i, line in enumerate(lines) if line.startswith(first_header))
    header = _columns(lines[start])
    assert set(lines[start + 1].replace(" ", "")) == {"-"}
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(dict(zip(header, _columns(line), strict=False)))
    return header, rows


def _check_report(lines, report, *, sklearnex_used):
    assert re.match(
        r"scale 0\.0004, best of 1; numpy GEMM: float64 \d+ GFLOP/s, "
        r"float32 \d+ GFLOP/s$",
        lines[0],
    )
    if sklearnex_used:
        assert re.match(r"sklearnex: \d", lines[1])
    else:
        assert lines[1].startswith("sklearnex: absent")

    header, rows = _table(lines, "workload")
    assert header == [
        "workload",
        "rows x cols",
        "ours",
        "scikit-learn",
        "sklearnex",
        "ours/sklearnex",
        "floor",
        "floor/ours",
        "floor basis",
    ]
    assert [row["workload"] for row in rows] == [
        "KMeans k=8, per Lloyd iteration",
        "StreamingRidge fit",
    ]
    # 0.0004 of 5,000,000 and of 2,000,000 rows.
    assert [row["rows x cols"] for row in rows] == ["2,000 x 50", "1,000 x 100"]
    for row in rows:
        assert re.fullmatch(TIME, row["ours"])
        assert re.fullmatch(TIME, row["scikit-learn"])
        assert re.fullmatch(TIME, row["floor"])
        assert re.fullmatch(r"\d+ %", row["floor/ours"])
        assert re.fullmatch(
            rf"1 x max\(read [\d.e+-]+ GB {TIME}, [\d.e+-]+ GFLOP {TIME}\)",
            row["floor basis"],
        )
        if sklearnex_used:
            assert re.fullmatch(TIME, row["sklearnex"])
            assert re.fullmatch(r"[\d.e+-]+", row["ours/sklearnex"])
        else:
            assert row["sklearnex"] == "absent"
            assert row["ours/sklearnex"] == "-"

    assert "cold data: file evicted (fsync, POSIX_FADV_DONTNEED) before each run" in (
        lines
    )
    header, rows = _table(lines, "cold workload")
    assert header == [
        "cold workload",
        "rows x cols",
        "cold read",
        "warm iteration",
        "cold iteration",
        "cold/max(read, warm)",
        "<= 1.1",
        "resident after eviction",
    ]
    (row,) = rows
    assert row["cold workload"] == "StreamingRidge fit (one pass)"
    for column in ("cold read", "warm iteration", "cold iteration"):
        assert re.fullmatch(TIME, row[column])
    assert row["<= 1.1"] in ("yes", "no")
    assert re.fullmatch(r"\d+ %", row["resident after eviction"])

    # The JSON holds the same figures, unrounded.
    assert report["scale"] == 0.0004 and report["repeat"] == 1
    assert set(report["gemm_flops_per_second"]) == {"float64", "float32"}
    assert [r["name"] for r in report["results"]] == WORKLOADS
    kmeans, ridge, cold = report["results"]
    for r in (kmeans, ridge):
        assert r["ours"] > 0 and r["sklearn"] > 0
        floor = r["floor"]
        assert floor["seconds"] == pytest.approx(
            floor["passes"] * max(floor["read"], floor["compute"])
        )
        if sklearnex_used:
            assert r["sklearnex"] > 0
        else:
            assert r["sklearnex"] == "absent"
    assert ridge["floor"]["flops"] == 1000 * 100 * 100
    assert kmeans["floor"]["flops"] == 2 * 2000 * 8 * 50
    assert min(cold["cold"], cold["read"], cold["warm"]) > 0
    assert 0 <= cold["resident"] <= 1


@pytest.mark.skipif(not _has_sklearnex(), reason="scikit-learn-intelex is absent")
def test_ratios_run_with_sklearnex(tmp_path, data_dir):
    lines, report = _run(tmp_path, data_dir, without_sklearnex=False)
    _check_report(lines, report, sklearnex_used=True)


def test_ratios_run_without_sklearnex(tmp_path, data_dir):
    lines, report = _run(tmp_path, data_dir, without_sklearnex=True)
    _check_report(lines, report, sklearnex_used=False)
    assert report["sklearnex"] is None


def test_ratios_run_arguments(tmp_path):
    for args, message in [
        (["--scale", "0"], "--scale must be > 0"),
        (["--run", "--repeat", "0"], "--repeat >= 1"),
        (["--run", "some.json"], "a results file is read without --run"),
        (["--only", "nothing"], "invalid choice: 'nothing'"),
    ]:
        result = subprocess.run(
            [sys.executable, str(SCRIPT), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert message in result.stderr


def test_ratios_pairs_name_existing_benchmarks():
    # Every benchmark a pair of the asv table names exists, so that a
    # renamed benchmark is not reported "missing" for ever.
    ratios = _ratios_module()
    sys.path.insert(0, str(ASV))
    try:
        for _, *names in ratios.PAIRS:
            for name in names:
                module, cls, method = name.split(".")
                loaded = importlib.import_module(f"benchmarks.{module}")
                assert hasattr(getattr(loaded, cls), method), name
    finally:
        sys.path.remove(str(ASV))


def test_ratios_reads_asv_results(tmp_path, capsys):
    ratios = _ratios_module()
    ours = "linear_model.RidgeSuite.time_fit"
    theirs = "linear_model.SklearnexRidge.time_sklearnex_ridge"
    results = {
        "result_columns": ["result", "params"],
        "results": {ours: [[0.5, 0.25], [["1", "2"]]], theirs: [[0.3]]},
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    ratios.main([str(path)])
    lines = capsys.readouterr().out.splitlines()
    rows = [
        _columns(line)
        for line in lines
        if line.startswith("Ridge fit vs sklearnex Ridge in memory")
    ]
    assert rows == [
        ["Ridge fit vs sklearnex Ridge in memory (where installed)", "1", "500 ms"]
        + ["300 ms", "1.67"],
        ["Ridge fit vs sklearnex Ridge in memory (where installed)", "2", "250 ms"]
        + ["300 ms", "0.833"],
    ]


def test_sklearnex_benchmarks_skip_where_absent(monkeypatch):
    # asv's convention: NotImplementedError in setup skips the benchmark.
    sys.path.insert(0, str(ASV))
    try:
        from benchmarks import common, linear_model

        monkeypatch.setenv(NO_SKLEARNEX, "1")
        with pytest.raises(NotImplementedError, match=NO_SKLEARNEX):
            common.sklearnex_module("linear_model")
        with pytest.raises(NotImplementedError):
            linear_model.SklearnexRidge().setup(("X.npy", "y.npy"))
        monkeypatch.delenv(NO_SKLEARNEX)
        monkeypatch.setitem(sys.modules, "sklearnex.cluster", None)
        with pytest.raises(NotImplementedError, match="not installed"):
            common.sklearnex_module("cluster")
    finally:
        sys.path.remove(str(ASV))


def test_evict_drops_the_file_from_the_page_cache(tmp_path):
    sys.path.insert(0, str(ASV))
    try:
        from benchmarks import common
    finally:
        sys.path.remove(str(ASV))
    path = tmp_path / "X.npy"
    np.save(path, np.arange(1 << 18, dtype=np.float64))  # 2 MB
    assert common.resident_fraction(path) == 1.0  # just written
    common.evict(path)
    if common.resident_fraction(path) != 0.0:
        pytest.skip("this file system keeps the pages (tmpfs?)")
    assert common.cold_read_seconds(path) > 0
    assert common.resident_fraction(path) == 1.0
    X = np.load(path, mmap_mode="r")
    np.asarray(X).sum()
    common.evict(path)  # the kernel keeps a mapped file's pages
    assert common.resident_fraction(path) > 0
    del X
    common.evict(path)
    assert common.resident_fraction(path) == 0.0
