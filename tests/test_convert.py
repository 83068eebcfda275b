"""Text files to .npy, chunk by chunk; the shuffle and info commands."""

import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import dump_svmlight_file, load_svmlight_file

from sklearn_ooc.__main__ import main
from sklearn_ooc.io import ConversionError, convert


def _csv(tmp_path, X, y=None, header=True, delimiter=","):
    path = tmp_path / "data.csv"
    columns = X if y is None else np.column_stack([X, y])
    names = [f"f{j}" for j in range(X.shape[1])] + ([] if y is None else ["label"])
    np.savetxt(
        path,
        columns,
        delimiter=delimiter,
        fmt="%.17g",
        header=delimiter.join(names) if header else "",
        comments="",
    )
    return path


@pytest.mark.parametrize("chunk_rows", [1, 7, 65536])
def test_csv_with_header_and_named_target(tmp_path, rng, chunk_rows):
    X, y = rng.normal(size=(103, 4)), rng.integers(0, 3, size=103).astype(float)
    X_path, y_path = convert(
        _csv(tmp_path, X, y), tmp_path / "out", target="label", chunk_rows=chunk_rows
    )
    assert_array_equal(np.load(X_path), X)
    assert_array_equal(np.load(y_path), y)


def test_csv_without_header_target_by_index_and_float32(tmp_path, rng):
    X = rng.normal(size=(20, 3))
    path = _csv(tmp_path, X, header=False, delimiter=";")
    X_path, y_path = convert(path, tmp_path / "o", target=0, dtype="float32")
    out = np.load(X_path)
    assert out.dtype == np.float32
    assert_allclose(out, X[:, 1:].astype(np.float32))
    assert_array_equal(np.load(y_path), X[:, 0])
    X_only, none = convert(path, tmp_path / "p")
    assert none is None and np.load(X_only).shape == (20, 3)


@pytest.mark.parametrize(
    "body, line, message",
    [
        ("a,b\n1,2\n3,4,5\n", 3, "3 fields, expected 2"),
        ("a,b\n1,2\n\n3,oops\n", 4, r"field 2 \('b'\) is 'oops', not a number"),
        ("1,2\n3,\n", 2, "field 2 is empty, a missing value"),
    ],
)
def test_malformed_csv_names_the_line_and_leaves_nothing(tmp_path, body, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ConversionError, match=rf"bad.csv, line {line}: {message}"):
        convert(path, tmp_path / "out", chunk_rows=1)
    assert sorted(os.listdir(tmp_path)) == ["bad.csv"]


@pytest.mark.parametrize("zero_based", [False, True])
def test_svmlight_equals_sklearn_reader(tmp_path, rng, zero_based):
    X = rng.normal(size=(50, 6))
    X[rng.random(X.shape) < 0.6] = 0.0
    X[:, -1] = 1.0  # so the width is known from the file
    y = rng.integers(-1, 2, size=50).astype(float)
    path = tmp_path / "data.libsvm"
    dump_svmlight_file(X, y, str(path), zero_based=zero_based, comment="made here")
    X_path, y_path = convert(path, tmp_path / "out", chunk_rows=9)
    X_ref, y_ref = load_svmlight_file(str(path), zero_based=zero_based)
    assert_array_equal(np.load(X_path), X_ref.toarray())
    assert_array_equal(np.load(y_path), y_ref)


def test_svmlight_malformed_pair(tmp_path):
    path = tmp_path / "bad.svm"
    path.write_text("1 1:2 2:3\n0 1:2 2=3\n")
    with pytest.raises(ConversionError, match=r"bad.svm, line 2: '2=3' is not an"):
        convert(path, tmp_path / "out")
    assert sorted(os.listdir(tmp_path)) == ["bad.svm"]


def test_conversion_memory_is_a_chunk(tmp_path, rng):
    X = rng.normal(size=(100_000, 10))
    path = _csv(tmp_path, X, header=False)
    tracemalloc.start()
    try:
        convert(path, tmp_path / "out", chunk_rows=500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 8 MB of rows; the text of 500 rows is a few hundred kilobytes.
    assert peak < X.nbytes / 8, peak


def test_missing_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert(tmp_path / "none.csv", tmp_path / "out")


# -- the commands -------------------------------------------------------------------


def test_help_documents_every_command_and_option():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_ooc", "--help"], capture_output=True, text=True
    )
    for command in ("demo", "convert", "shuffle", "info"):
        assert command in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_ooc", "convert", "--help"],
        capture_output=True,
        text=True,
    )
    for option in (
        "--target",
        "--dtype",
        "--chunk-rows",
        "--format",
        "--delimiter",
        "--n-features",
        "--header",
        "--overwrite",
    ):
        assert option in result.stdout


def test_convert_shuffle_and_info_commands(tmp_path, rng, capsys):
    X, y = rng.normal(size=(40, 2)), np.arange(40.0)
    path = _csv(tmp_path, X, y)
    prefix = str(tmp_path / "data")
    assert main(["convert", str(path), prefix, "--target", "label"]) == 0
    assert (
        main(
            [
                "shuffle",
                prefix + "_X.npy",
                prefix + "_y.npy",
                str(tmp_path / "mixed"),
                "--seed",
                "3",
                "--buffer-mb",
                "0.001",
            ]
        )
        == 0
    )
    Xs, ys = np.load(tmp_path / "mixed_X.npy"), np.load(tmp_path / "mixed_y.npy")
    assert_array_equal(Xs, X[ys.astype(int)])
    assert main(["info", str(tmp_path / "mixed_X.npy")]) == 0
    out = capsys.readouterr().out
    assert "shape  (40, 2)" in out and "dtype  float64" in out


def test_command_errors_are_one_line(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("1,2\n3,x\n")
    assert main(["convert", str(path), str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err == (
        f"error: {path}, line 2: field 2 is 'x', not a number; write a number "
        "there, or check the delimiter (',')\n"
    )
