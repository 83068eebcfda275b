"""The command line: ``python -m sklearn_ooc``."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from sklearn_ooc.__main__ import main

from .conftest import run_cli

_run = run_cli


def test_help_lists_the_commands():
    result = _run("--help")
    assert result.returncode == 0
    assert "demo" in result.stdout


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_demo_fits_from_disk_and_cleans_up(tmp_path):
    result = _run("demo", "--size-mb", "4", "--tmpdir", str(tmp_path), "--n-jobs", "2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Gaussian mixture: 10,000 rows x 50 features, 4 MB written" in out
    assert re.search(r"^\[1\] Log-likelihood: -[\d.e+]+ Time \(s\)", out, re.M)
    assert re.search(r"^\[2\] Improvement: [-\d.e+]+ Time \(s\)", out, re.M)
    # Both fits on the same rows: the per-iteration times sit side by side.
    assert re.search(r"OOCGaussianMixture.fit\(memmap\) +[\d.]+ s per iteration", out)
    assert re.search(r"sklearn GaussianMixture \(in RAM\) +[\d.]+ s per iteration", out)
    assert "same rows, same start, 5 iterations each" in out
    assert "Ridge regression: 5,000 rows x 50 features, 2 MB written" in out
    assert "in a process allowed 256 MB beyond its imports: the 2 MB file is not" in out
    assert "StreamingRidge.fit(memmap)" in out and "peak extra memory" in out
    assert "sklearn Ridge, no limit (reference)" in out
    summary = out.split("Summary")[1]
    differences = [
        float(x)
        for x in re.findall(
            r"largest relative difference from scikit-learn on the same data "
            r"([\d.e+-]+)",
            summary,
        )
    ]
    assert len(differences) == 2 and max(differences) < 1e-10
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA")
def test_demo_fits_a_file_larger_than_the_memory_allowed(tmp_path):
    # A 40 MB file, 16 MB allowed beyond the imports: our fit reads it batch
    # by batch within the allowance; scikit-learn cannot even load it.
    from sklearn_ooc import _demo

    with open(tmp_path / "out.txt", "w") as out:
        figures = _demo.demo_ridge(
            40, n_jobs=1, allowance_mb=16, directory=tmp_path, out=out
        )
    text = (tmp_path / "out.txt").read_text()
    assert "allowed 16 MB beyond its imports: the 40 MB file is larger" in text
    assert figures["peak_memory"] < 16e6
    assert "error" in figures["capped_reference"]
    assert "sklearn Ridge (load + fit in RAM)     failed: MemoryError" in text
    assert figures["max_relative_difference"] < 1e-10
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]


def test_demo_removes_its_files_when_it_fails(tmp_path, monkeypatch):
    from sklearn_ooc import _demo

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_demo.OOCGaussianMixture, "fit", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        _demo.run_demo(1, directory=tmp_path, out=open(os.devnull, "w"))
    assert os.listdir(tmp_path) == []


def test_an_interrupt_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from sklearn_ooc import io

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(io, "convert", interrupted)
    (tmp_path / "data.csv").write_text("1,2\n")
    try:
        code = main(["convert", str(tmp_path / "data.csv"), str(tmp_path / "o")])
    except KeyboardInterrupt:
        pytest.fail("the interrupt escaped main() as a traceback")
    assert code == 130
    err = capsys.readouterr().err
    assert err == "error: interrupted; no output was left half-written\n"
    assert sorted(os.listdir(tmp_path)) == ["data.csv"]


def test_a_reader_that_leaves_early_is_not_a_traceback(tmp_path):
    # "python -m sklearn_ooc info *.npy | head -1": the pipe closes.
    np.save(tmp_path / "X.npy", np.zeros((3, 2)))
    child = subprocess.Popen(
        [sys.executable, "-m", "sklearn_ooc", "info", str(tmp_path / "X.npy")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    child.stdout.close()
    err = child.stderr.read().decode()
    child.stderr.close()
    assert child.wait(timeout=300) == 1
    # Nothing to report: the reader asked for no more.
    assert err == "", err


def test_shuffle_and_convert_help_document_the_new_options():
    shuffle = _run("shuffle", "--help").stdout
    assert "--overwrite" in shuffle and "never changed" in shuffle
    convert = _run("convert", "--help").stdout
    for option in ("--overwrite", "--header {auto,yes,no}", "--delimiter"):
        assert option in convert


def test_convert_progress_is_plain_lines_in_a_pipe_and_quiet_silences_it(tmp_path):
    import pandas as pd

    path = tmp_path / "data.parquet"
    pd.DataFrame({"a": np.arange(5000.0), "y": np.arange(5000.0)}).to_parquet(path)
    # Standard error is a pipe here: whole lines, never a carriage return, a
    # line every interval (0 s here: every chunk) and a last one.
    every = {"SKLEARN_OOC_PROGRESS_SECONDS": "0"}
    args = ("convert", str(path), "--target", "y", "--chunk-rows", "1000")
    lines = _run(*args[:2], str(tmp_path / "l"), *args[2:], env=every)
    assert lines.returncode == 0, lines.stderr
    assert "\r" not in lines.stderr and lines.stderr.endswith("\n")
    reported = lines.stderr.splitlines()
    assert len(reported) >= 3
    assert re.fullmatch(
        r"convert data\.parquet: [\d,]+ of 5,000 rows \(\d+%\) \([\d.,]+ kB\), "
        r"[\d.,]+ [kMG]?B/s, \d+ s elapsed(, about \d+ s left)?",
        reported[0],
    )
    assert reported[-1].startswith("convert data.parquet: 5,000 rows (40.0 kB) in ")
    # --quiet (before the command) and --no-progress silence it.
    for quiet in (
        _run("--quiet", *args[:2], str(tmp_path / "q"), *args[2:], env=every),
        _run(*args[:2], str(tmp_path / "n"), *args[2:], "--no-progress", env=every),
    ):
        assert quiet.returncode == 0, quiet.stderr
        assert quiet.stderr == ""
    # --progress asks for the bar even here.
    shown = _run(*args[:2], str(tmp_path / "p"), *args[2:], "--progress")
    assert shown.returncode == 0, shown.stderr
    assert "%|" in shown.stderr and "row/s]" in shown.stderr  # tqdm's bar
    assert_equal = np.testing.assert_array_equal
    assert_equal(np.load(tmp_path / "p_X.npy"), np.load(tmp_path / "q_X.npy"))
    assert "column names in" in shown.stdout


def test_shuffle_reports_both_passes_in_a_pipe(tmp_path, rng):
    np.save(tmp_path / "X.npy", rng.normal(size=(3000, 3)))
    result = _run(
        "shuffle",
        str(tmp_path / "X.npy"),
        str(tmp_path / "s"),
        env={"SKLEARN_OOC_PROGRESS_SECONDS": "3600"},
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr
    assert re.findall(
        r"^shuffle: (\w+) [\w ]+: 3,000 rows \(72\.0 kB\) in \d+ s$",
        result.stderr,
        re.M,
    ) == [
        "scatter",
        "permute",
    ]
    quiet = _run("-q", "shuffle", str(tmp_path / "X.npy"), str(tmp_path / "t"))
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_version(capsys):
    from sklearn_ooc import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"sklearn_ooc {__version__}"


def test_wrote_lines_give_the_rows_written(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{2 * i},{i % 3}\n" for i in range(7)))
    assert main(["convert", str(path), str(tmp_path / "d"), "--target", "y"]) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"wrote .*d_X\.npy \(7 rows x 2 columns, float64\) and .*d_y\.npy "
        r"\(7 values, float64\)",
        out,
    ), out
    X, y = tmp_path / "d_X.npy", tmp_path / "d_y.npy"
    assert main(["shuffle", str(X), str(y), str(tmp_path / "s")]) == 0
    assert "(7 rows x 2 columns, float64) and" in capsys.readouterr().out


def test_info_reports_every_file_and_fails_if_one_is_bad(tmp_path, capsys):
    np.save(tmp_path / "good.npy", np.zeros((4, 3)))
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    files = [tmp_path / "bad.npy", tmp_path / "good.npy", tmp_path / "gone.npy"]
    assert main(["info", *map(str, files)]) == 1
    captured = capsys.readouterr()
    # The good file is described although a bad one came first.
    assert "shape  (4, 3)" in captured.out
    assert "bad.npy\n  error  " in captured.out
    assert "gone.npy\n  error  " in captured.out
    assert "2 of 3 files unreadable" in captured.err
