"""Tables (Parquet, Arrow, CSV) and svmlight files to .npy, chunk by chunk; the
shuffle and info commands."""

import glob
import json
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
from sklearn_ooc.io._convert import columns_path, read_columns


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
        ("a,b\n1,2\n3,4,5\n", 3, "3 fields, expected 2 as on line 1"),
        # A blank line before the error: the line an editor shows.
        ("a,b\n1,2\n\n3,4,5\n", 4, "3 fields, expected 2 as on line 1"),
        ("a,b\n1,2\n\n3,oops\n", 4, r"field 2 \('b'\) is 'oops', not a number"),
        ("1,2\n3,\n", 2, "field 2 is empty, a missing value"),
        ("a,b\n1,2\n\n3,NA\n", 4, r"field 2 \('b'\) is 'NA', a missing value"),
        # A first line that mixes names and numbers is data, and says so.
        ("name,2\n1,2\n", 1, r"field 1 is 'name', not a number.*--header yes"),
    ],
)
def test_malformed_csv_names_the_line_and_leaves_nothing(tmp_path, body, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ConversionError, match=rf"bad.csv, line {line}[:,] {message}"):
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


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_conversion_memory_is_a_chunk(tmp_path, rng, monkeypatch, kind):
    import pyarrow as pa

    from sklearn_ooc.io._npy_writer import NpyWriter

    X = rng.normal(size=(200_000, 10))
    if kind == "csv":
        path = _csv(tmp_path, X, header=False)
    else:
        import pandas as pd

        path = tmp_path / "data.parquet"
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(10)])
        frame.to_parquet(path, row_group_size=10_000)
    # Arrow's buffers live outside Python's allocator: their peak is sampled
    # at every chunk written, with the table's cache of decoded row groups
    # (bounded in bytes, not rows) kept to the last one.
    from sklearn_ooc.data import _table

    monkeypatch.setattr(_table, "_PIECE_CACHE_BYTES", 0)
    arrow_peak = []
    write = NpyWriter.write

    def sampled(self, rows):
        arrow_peak.append(pa.total_allocated_bytes())
        return write(self, rows)

    monkeypatch.setattr(NpyWriter, "write", sampled)
    tracemalloc.start()
    try:
        convert(path, tmp_path / "out", chunk_rows=500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 16 MB of rows; a chunk of 500 rows is 40 kB.
    assert peak < X.nbytes / 8, peak
    if kind == "parquet":
        # A row group is 800 kB: one read, one held.
        assert max(arrow_peak) < 4 * 800_000, max(arrow_peak)
    assert_array_equal(np.load(tmp_path / "out_X.npy"), X)


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
        "--columns",
        "--drop",
        "--na",
        "--encode",
        "--progress",
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
        "there, or check the delimiter (','), or leave the column out "
        "(drop=['1'], --drop 1) or encode it (encode='ordinal' or 'onehot', "
        "--encode)\n"
    )


# -- tables: Parquet, Arrow, CSV through open_table ------------------------------


def _frame(rng, n=57):
    import pandas as pd

    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(-5, 5, size=n),
            "c": rng.normal(size=n).astype(np.float32),
            "flag": rng.random(n) < 0.5,
            "label": rng.integers(0, 3, size=n).astype(float),
        }
    )


def _outputs(tmp_path):
    return sorted(p for p in os.listdir(tmp_path) if p.startswith("out"))


@pytest.mark.parametrize("chunk_rows", [1, 10, 65536])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parquet_equals_the_loaded_frame(tmp_path, rng, chunk_rows, dtype):
    frame = _frame(rng)
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, row_group_size=13)
    X_path, y_path = convert(
        path, tmp_path / "out", target="label", chunk_rows=chunk_rows, dtype=dtype
    )
    expected = frame.drop(columns="label").to_numpy(dtype=np.float64)
    assert np.load(X_path).dtype == dtype
    assert_array_equal(np.load(X_path), expected.astype(dtype))
    assert_array_equal(np.load(y_path), frame["label"].to_numpy())
    assert read_columns(X_path) == ["a", "b", "c", "flag"]
    with open(columns_path(X_path)) as f:
        assert json.load(f)["target"] == "label"


def test_columns_and_drop_select_and_order(tmp_path, rng):
    frame = _frame(rng)
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    X_path, _ = convert(path, tmp_path / "out", columns=["c", "a"], target=-1)
    assert_array_equal(np.load(X_path), frame[["c", "a"]].to_numpy(np.float64))
    assert read_columns(X_path) == ["c", "a"]
    X_path, y_path = convert(path, tmp_path / "out2", drop=["flag", 1], target="label")
    assert_array_equal(np.load(X_path), frame[["a", "c"]].to_numpy(np.float64))
    assert read_columns(X_path) == ["a", "c"]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"columns": ["a", "nope"]}, r"no column named 'nope'; the columns are 'a'"),
        ({"columns": ["a", "label"], "target": "label"}, "also in columns"),
        ({"drop": ["label"], "target": "label"}, "also in drop"),
        ({"columns": ["a", "a"]}, "named twice"),
        ({"target": 9}, "column 9 is out of range for 5 columns"),
        ({"drop": ["a", "b", "c", "flag"], "target": "label"}, "no column is left"),
        ({"delimiter": ";"}, "delimiter applies to CSV files only"),
        ({"n_features": 3}, "n_features applies to svmlight files only"),
        ({"na": "zero"}, "na must be 'error' or 'nan'"),
        ({"encode": "hash"}, "encode must be None, 'ordinal' or 'onehot'"),
        ({"columns": []}, "columns is empty"),
    ],
)
def test_bad_options_are_refused_before_writing(tmp_path, rng, options, message):
    path = tmp_path / "data.parquet"
    _frame(rng).to_parquet(path)
    with pytest.raises(ValueError, match=message):
        convert(path, tmp_path / "out", **options)
    assert _outputs(tmp_path) == []


def test_directory_and_glob_of_parquet_files(tmp_path, rng):
    frame = _frame(rng, n=40)
    folder = tmp_path / "parts"
    folder.mkdir()
    for k in range(4):
        frame.iloc[10 * k : 10 * (k + 1)].to_parquet(folder / f"part-{k}.parquet")
    expected = frame.drop(columns="label").to_numpy(np.float64)
    for source, prefix in ((folder, "out_dir"), (folder / "*.parquet", "out_glob")):
        X_path, y_path = convert(
            source, tmp_path / prefix, target="label", chunk_rows=7
        )
        assert_array_equal(np.load(X_path), expected)
        assert_array_equal(np.load(y_path), frame["label"].to_numpy())


def test_arrow_feather_file(tmp_path, rng):
    frame = _frame(rng)
    path = tmp_path / "data.feather"
    frame.to_feather(path)
    X_path, _ = convert(path, tmp_path / "out", drop=["label"])
    assert_array_equal(np.load(X_path), frame.drop(columns="label").to_numpy(float))


def test_csv_files_of_a_glob_keep_their_lines_apart(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n1,2\n3,4\n")
    (tmp_path / "b.csv").write_text("x,y\n5,6\n\n7,\n")
    message = r"b.csv, line 4: field 2 \('y'\) is empty"
    with pytest.raises(ConversionError, match=message):
        convert(tmp_path / "*.csv", tmp_path / "out")
    assert _outputs(tmp_path) == []
    (tmp_path / "b.csv").write_text("x,y\n5,6\n\n7,8\n")
    X_path, y_path = convert(tmp_path / "*.csv", tmp_path / "out", target="y")
    assert_array_equal(np.load(X_path), [[1.0], [3.0], [5.0], [7.0]])
    assert_array_equal(np.load(y_path), [2.0, 4.0, 6.0, 8.0])


def test_missing_value_in_parquet_names_row_group_and_column(tmp_path, rng):
    frame = _frame(rng, n=30)
    frame.loc[17, "a"] = np.nan
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, row_group_size=10)
    with pytest.raises(
        ConversionError,
        match=r"data.parquet', row group 1 \(row 17 of the table\): column 'a' is "
        r"null, a missing value; .*na='nan' \(--na nan\)",
    ):
        convert(path, tmp_path / "out", target="label", chunk_rows=4)
    assert _outputs(tmp_path) == []
    assert not glob.glob(str(tmp_path / ".*"))  # no scratch left behind
    X_path, _ = convert(path, tmp_path / "out", target="label", na="nan")
    X = np.load(X_path)
    assert np.isnan(X[17, 0]) and np.isnan(X).sum() == 1
    assert_array_equal(X[:, 1:], frame[["b", "c", "flag"]].to_numpy(np.float64))


def test_missing_target_is_an_error_even_with_na_nan(tmp_path, rng):
    frame = _frame(rng, n=20)
    frame.loc[5, "label"] = np.nan
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    with pytest.raises(ConversionError, match="column 'label' is null.*every row"):
        convert(path, tmp_path / "out", target="label", na="nan")
    assert _outputs(tmp_path) == []


def test_nullable_integers_and_booleans_become_nan(tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="Int64"),
            "f": pd.array([True, False, None], dtype="boolean"),
        }
    )
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    X_path, _ = convert(path, tmp_path / "out", na="nan")
    assert_array_equal(np.load(X_path), [[1.0, 1.0], [np.nan, 0.0], [3.0, np.nan]])


def test_text_column_is_refused_with_a_way_out(tmp_path, rng):
    frame = _frame(rng, n=10)
    frame["city"] = ["Paris", "Lyon"] * 5
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    with pytest.raises(
        ConversionError, match=r"column 'city' holds .*string \(text\).*--drop city"
    ):
        convert(path, tmp_path / "out")
    assert _outputs(tmp_path) == []
    X_path, _ = convert(path, tmp_path / "out", drop=["city"])
    assert np.load(X_path).shape == (10, 5)


def test_a_column_of_dates_is_refused(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"a": [1.0, 2.0], "when": pd.to_datetime(["2020", "2021"])})
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    with pytest.raises(ConversionError, match=r"column 'when' holds timestamp"):
        convert(path, tmp_path / "out")


def test_string_target_is_refused(tmp_path):
    (tmp_path / "data.csv").write_text("a,kind\n1,cat\n2,dog\n")
    with pytest.raises(ConversionError, match="target column 'kind' holds string"):
        convert(tmp_path / "data.csv", tmp_path / "out", target="kind")


def test_corrupt_parquet_is_named_and_nothing_written(tmp_path, rng):
    path = tmp_path / "data.parquet"
    _frame(rng).to_parquet(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="data.parquet' is not a readable Parquet"):
        convert(path, tmp_path / "out")
    assert _outputs(tmp_path) == []


def test_existing_outputs_and_names_are_kept_without_overwrite(tmp_path, rng):
    path = tmp_path / "data.parquet"
    _frame(rng).to_parquet(path)
    X_path, _ = convert(path, tmp_path / "out", target="label")
    before = {p: (tmp_path / p).read_bytes() for p in _outputs(tmp_path)}
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        convert(path, tmp_path / "out", target="label", columns=["a"])
    assert {p: (tmp_path / p).read_bytes() for p in _outputs(tmp_path)} == before
    convert(path, tmp_path / "out", target="label", columns=["a"], overwrite=True)
    assert read_columns(X_path) == ["a"]


def test_headerless_csv_writes_no_names_and_drops_stale_ones(tmp_path, rng):
    path = tmp_path / "data.parquet"
    _frame(rng).to_parquet(path)
    X_path, _ = convert(path, tmp_path / "out")
    assert read_columns(X_path) is not None
    csv_path = _csv(tmp_path, rng.normal(size=(5, 2)), header=False)
    convert(csv_path, tmp_path / "out", overwrite=True)
    assert read_columns(X_path) is None
    assert _outputs(tmp_path) == ["out_X.npy"]


def test_error_midway_leaves_no_file(tmp_path, monkeypatch, rng):
    from sklearn_ooc.io import _convert

    path = tmp_path / "data.parquet"
    _frame(rng, n=50).to_parquet(path, row_group_size=10)
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 7:
            raise OSError("disk full")
        return original(*args, **kwargs)

    original = _convert._as_floats
    monkeypatch.setattr(_convert, "_as_floats", failing)
    with pytest.raises(OSError, match="disk full"):
        convert(path, tmp_path / "out", target="label", chunk_rows=10)
    assert sorted(os.listdir(tmp_path)) == ["data.parquet"]


def test_progress_bar_on_stderr(tmp_path, rng, capsys):
    path = tmp_path / "data.parquet"
    _frame(rng).to_parquet(path)
    convert(path, tmp_path / "out", progress=True, chunk_rows=10)
    err = capsys.readouterr().err
    assert "convert" in err and "row" in err
    convert(path, tmp_path / "out2")
    assert capsys.readouterr().err == ""


def test_fit_from_converted_parquet_equals_fit_from_table(tmp_path, rng):
    from sklearn_ooc import open_table
    from sklearn_ooc.linear_model import StreamingRidge

    frame = _frame(rng, n=200)
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, row_group_size=64)
    X_path, y_path = convert(path, tmp_path / "out", target="label")
    table = open_table(path)
    ours = StreamingRidge(batch_size=50).fit(X_path, y_path)
    ref = StreamingRidge(batch_size=50).fit(table.drop(columns="label"), table["label"])
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12)


def test_cli_reads_parquet_with_columns_drop_and_na(tmp_path, rng, capsys):
    frame = _frame(rng, n=20)
    frame.loc[3, "c"] = np.nan
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    prefix = str(tmp_path / "out")
    assert main(["convert", str(path), prefix, "--target", "label"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: file ") and "column 'c' is null" in err
    args = ["convert", str(path), prefix, "--target", "label", "--no-progress"]
    assert main([*args, "--drop", "flag", "--drop", "b", "--na", "nan"]) == 0
    out = capsys.readouterr().out
    assert "out_X.columns.json" in out
    assert read_columns(prefix + "_X.npy") == ["a", "c"]
    assert main([*args, "--columns", "c,a", "--na", "nan", "--overwrite"]) == 0
    X = np.load(prefix + "_X.npy")
    assert_array_equal(X, frame[["c", "a"]].to_numpy(np.float64))
    with pytest.raises(SystemExit):
        main([*args, "--columns", "a,,c", "--overwrite"])
    assert "'a,,c' holds an empty column name" in capsys.readouterr().err


def _mixed_frame(rng, n=60, missing=False):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "city": rng.choice(["Paris", "Lyon", "Nice"], size=n),
            "kind": pd.Categorical(rng.choice(["x", "y"], size=n)),
            "label": rng.integers(0, 2, size=n).astype(float),
        }
    )
    if missing:
        frame.loc[[3, 40], "city"] = None
    return frame


@pytest.mark.parametrize("encode", ["ordinal", "onehot"])
@pytest.mark.parametrize("chunk_rows", [5, 65536])
def test_encode_equals_sklearn_encoders_on_the_loaded_frame(
    tmp_path, rng, encode, chunk_rows
):
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    frame = _mixed_frame(rng)
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, row_group_size=16)
    X_path, y_path = convert(
        path, tmp_path / "out", target="label", encode=encode, chunk_rows=chunk_rows
    )
    cats = frame[["city", "kind"]]
    if encode == "ordinal":
        ref = OrdinalEncoder().fit(cats)
    else:
        ref = OneHotEncoder(sparse_output=False).fit(cats)
    expected = np.column_stack([frame["a"], ref.transform(cats)])
    assert_array_equal(np.load(X_path), expected)
    assert_array_equal(np.load(y_path), frame["label"].to_numpy())
    assert read_columns(X_path) == ["a", *ref.get_feature_names_out()]


def test_encode_with_missing_categories(tmp_path, rng):
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    frame = _mixed_frame(rng, missing=True)
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, row_group_size=16)
    with pytest.raises(
        ConversionError, match=r"row group 0 \(row 3 of the table\): column 'city'"
    ):
        convert(path, tmp_path / "out", encode="onehot")
    assert _outputs(tmp_path) == []
    cats = frame[["city", "kind"]]
    for encode, ref in (
        ("ordinal", OrdinalEncoder()),
        ("onehot", OneHotEncoder(sparse_output=False)),
    ):
        X_path, _ = convert(
            path, tmp_path / f"out_{encode}", encode=encode, na="nan", drop="label"
        )
        expected = np.column_stack([frame["a"], ref.fit_transform(cats)])
        assert_array_equal(np.load(X_path), expected)


def test_cli_encode_csv(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("x,color,y\n1.5,red,0\n2.5,blue,1\n\n3.5,red,1\n")
    prefix = str(tmp_path / "out")
    assert main(["convert", str(path), prefix, "--target", "y"]) == 1
    err = capsys.readouterr().err
    assert "line 2: field 2 ('color') is 'red', not a number" in err, err
    args = ["convert", str(path), prefix, "--target", "y", "--encode", "onehot"]
    assert main(args) == 0
    assert_array_equal(
        np.load(prefix + "_X.npy"), [[1.5, 0, 1], [2.5, 1, 0], [3.5, 0, 1]]
    )
    assert read_columns(prefix + "_X.npy") == ["x", "color_blue", "color_red"]
