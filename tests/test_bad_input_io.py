"""Bad input to the tools (``convert``, ``shuffle``, the command line).

Every case asserts what the issue "never crash, never lose data" asks: the
error names the file, the line or the parameter and says what to do; the
input files are byte-identical afterwards; outputs are replaced only when
asked and then both or neither; and no temporary file is left in the folder.
"""

import errno
import os
import re
import signal
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_ooc.__main__ import main
from sklearn_ooc.data._scratch import _PATTERN
from sklearn_ooc.io import ConversionError, _npy_writer, convert, shuffle_on_disk

from .conftest import file_digest, run_cli

# -- helpers -------------------------------------------------------------------------


def _listing(directory):
    """Every entry under ``directory``, relative, hidden ones included."""
    found = set()
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(root, name), directory))
    return found


def _digests(*paths):
    return {os.fspath(p): file_digest(p) for p in paths}


def _scratch(directory):
    """Temporary entries (hidden ``.tmp`` files and folders) in ``directory``."""
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


_run = run_cli


def _pair(tmp_path, stem="data", n=50):
    X = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    y = np.arange(n, dtype=np.float64)
    X_path, y_path = tmp_path / f"{stem}_X.npy", tmp_path / f"{stem}_y.npy"
    np.save(X_path, X)
    np.save(y_path, y)
    return X_path, y_path


def _refused(call, exception, match, directory, inputs=()):
    """``call()`` raises ``exception`` matching ``match``, and the folder and
    the ``inputs`` are as they were."""
    before, digests = _listing(directory), _digests(*inputs)
    with pytest.raises(exception, match=match) as info:
        call()
    assert _listing(directory) == before, "the failed call left files behind"
    assert _digests(*inputs) == digests, "the failed call changed its inputs"
    return info


def _dead_pid():
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


# -- 1. inputs are never destroyed, outputs never replaced unasked --------------------


def test_shuffle_command_refuses_to_write_over_its_inputs(tmp_path, capsys):
    # The command of the issue: the outputs data_X.npy / data_y.npy are the
    # inputs. It used to replace them with their shuffle.
    X_path, y_path = _pair(tmp_path)
    before, digests = _listing(tmp_path), _digests(X_path, y_path)
    argv = ["shuffle", str(X_path), str(y_path), str(tmp_path / "data")]
    assert main(argv) == 1
    assert main(argv + ["--overwrite"]) == 1
    err = capsys.readouterr().err
    assert re.search(r"the output '[^']*data_X\.npy' is the input", err), err
    assert "choose another output prefix" in err
    assert _listing(tmp_path) == before
    assert _digests(X_path, y_path) == digests


@pytest.mark.parametrize("link", ["same path", "symlink", "hardlink", "memmap"])
def test_shuffle_refuses_an_output_that_is_an_input(tmp_path, link):
    X_path, y_path = _pair(tmp_path)
    X = X_path
    if link == "symlink":
        os.symlink(y_path, tmp_path / "out_y.npy")
    elif link == "hardlink":
        os.link(X_path, tmp_path / "out_X.npy")
    elif link == "memmap":
        X = np.load(X_path, mmap_mode="r")[5:]
    prefix = tmp_path / ("data" if link in ("same path", "memmap") else "out")
    for overwrite in (False, True):
        _refused(
            lambda overwrite=overwrite: shuffle_on_disk(
                X, y_path, out=prefix, random_state=0, overwrite=overwrite
            ),
            ValueError,
            r"the output '[^']*_[Xy]\.npy' is the input '[^']*data_[Xy]\.npy'"
            r".*; choose another output prefix",
            tmp_path,
            inputs=[X_path, y_path],
        )


def test_shuffle_does_not_replace_existing_outputs_unless_asked(tmp_path):
    X_path, y_path = _pair(tmp_path)
    old_X, old_y = _pair(tmp_path, stem="out", n=7)
    kept = _digests(X_path, y_path, old_X, old_y)
    # Without the keyword (the old signature): the default is to refuse.
    _refused(
        lambda: shuffle_on_disk(X_path, y_path, out=tmp_path / "out", random_state=0),
        FileExistsError,
        r"the output '[^']*out_X\.npy' exists; pass overwrite=True \(--overwrite",
        tmp_path,
        inputs=list(kept),
    )
    shuffle_on_disk(
        X_path, y_path, out=tmp_path / "out", random_state=0, overwrite=True
    )
    assert np.load(old_X).shape == (50, 3)
    assert_array_equal(np.load(old_X)[:, 0] // 3, np.load(old_y))
    assert _scratch(tmp_path) == []


def test_convert_does_not_replace_existing_outputs_unless_asked(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    np.save(tmp_path / "out_X.npy", np.zeros(3))
    kept = _digests(path, tmp_path / "out_X.npy")
    _refused(
        lambda: convert(path, tmp_path / "out"),
        FileExistsError,
        r"the output '[^']*out_X\.npy' exists; pass overwrite=True",
        tmp_path,
        inputs=list(kept),
    )
    assert main(["convert", str(path), str(tmp_path / "out")]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert _digests(*kept) == kept
    assert main(["convert", str(path), str(tmp_path / "out"), "--overwrite"]) == 0
    assert_array_equal(np.load(tmp_path / "out_X.npy"), [[1, 2], [3, 4]])
    assert _scratch(tmp_path) == []


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_convert_refuses_an_output_linked_to_its_input(tmp_path, link):
    path = tmp_path / "data.csv"
    path.write_text("1,2\n3,4\n")
    (os.symlink if link == "symlink" else os.link)(path, tmp_path / "out_X.npy")
    _refused(
        lambda: convert(path, tmp_path / "out", overwrite=True),
        ValueError,
        r"the output '[^']*out_X\.npy' is the input '[^']*data\.csv' \(the same "
        r"file by a link\); choose another output prefix",
        tmp_path,
        inputs=[path],
    )


# -- 2. no row is dropped silently ----------------------------------------------------


@pytest.mark.parametrize(
    "body, expected",
    [
        # Excel's "CSV UTF-8": the mark glued to the first field made the
        # first row look like a header, and it was dropped.
        ("\ufeff1,2\n3,4\n", [[1, 2], [3, 4]]),
        ("\ufeffa,b\n1,2\n3,4\n", [[1, 2], [3, 4]]),
        # A blank first line made every row "0 fields, expected ..." wrong.
        ("\n1,2\n3,4\n", [[1, 2], [3, 4]]),
    ],
    ids=["bom", "bom-header", "blank-first-line"],
)
def test_csv_keeps_every_row(tmp_path, body, expected):
    path = tmp_path / "data.csv"
    path.write_bytes(body.encode("utf-8"))
    X_path, _ = convert(path, tmp_path / "out")
    assert_array_equal(np.load(X_path), expected)


def test_a_literal_nan_is_a_missing_value_as_in_pandas(tmp_path):
    # pandas reads "nan" (and "NaN", "NA", ...) as missing: no row is
    # dropped, it is written as NaN when asked, else named as an error.
    path = tmp_path / "data.csv"
    path.write_text("nan,2\n3,4\n")
    X_path, _ = convert(path, tmp_path / "out", na="nan")
    assert_array_equal(np.load(X_path), [[np.nan, 2], [3, 4]])
    _refused(
        lambda: convert(path, tmp_path / "refused"),
        ConversionError,
        r"data\.csv, line 1: field 1 is 'nan', a missing value; .*na='nan'",
        tmp_path,
        inputs=[path],
    )


def test_a_byte_order_mark_does_not_rename_the_first_column(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes("\ufefflabel,b\n1,2\n3,4\n".encode())
    X_path, y_path = convert(path, tmp_path / "out", target="label")
    assert_array_equal(np.load(y_path), [1, 3])
    assert_array_equal(np.load(X_path), [[2], [4]])


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "1,,3\n4,5,6\n",
            r"data\.csv, line 1: field 2 is empty, a missing value; fill it in or "
            r"remove the row first",
        ),
        ("1,NA,3\n4,5,6\n", r"data\.csv, line 1: field 2 is 'NA', a missing value"),
        ("1,2,3\n4,N/A,6\n", r"data\.csv, line 2: field 2 is 'N/A', a missing value"),
        (
            "a,b,c\n1,2,3\n\n4,NA,6\n",
            r"data\.csv, line 4: field 2 \('b'\) is 'NA', a missing value",
        ),
        # pandas writes its index column with an empty name: not silently
        # data, and the message says how to read it as a header.
        (
            ",a,b\n0,1,2\n",
            r"data\.csv, line 1: field 1 is empty, a missing value; .* if it is "
            r"the header, pass header='yes', --header yes",
        ),
    ],
    ids=["empty-first", "NA-first", "N/A-later", "NA-named", "pandas-index"],
)
def test_a_missing_value_is_an_error_naming_line_and_column(tmp_path, body, message):
    path = tmp_path / "data.csv"
    path.write_text(body)
    _refused(
        lambda: convert(path, tmp_path / "out"),
        ConversionError,
        message,
        tmp_path,
        inputs=[path],
    )


def test_the_header_option_decides_the_first_line(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text(",a,b\n0,1,2\n1,3,4\n")
    X_path, _ = convert(path, tmp_path / "yes", header="yes")
    assert_array_equal(np.load(X_path), [[0, 1, 2], [1, 3, 4]])
    assert main(["convert", str(path), str(tmp_path / "cli"), "--header", "yes"]) == 0
    assert np.load(tmp_path / "cli_X.npy").shape == (2, 3)
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("1,2\n3,4\n")
    X_path, _ = convert(numbers, tmp_path / "first_is_names", header=True)
    assert_array_equal(np.load(X_path), [[3, 4]])
    names = tmp_path / "names.csv"
    names.write_text("a,b\n1,2\n")
    _refused(
        lambda: convert(names, tmp_path / "no", header="no"),
        ConversionError,
        r"names\.csv, line 1: field 1 is 'a', not a number",
        tmp_path,
        inputs=[names],
    )
    _refused(
        lambda: convert(names, tmp_path / "bad", header="maybe"),
        ValueError,
        r"header must be 'auto', 'yes' or 'no', got 'maybe'",
        tmp_path,
    )


# -- 3. paired outputs: both or neither -------------------------------------------


def _fail_replacing(monkeypatch, suffix):
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if os.fspath(dst).endswith(suffix):
            raise OSError(errno.EIO, "Input/output error", os.fspath(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("hard_links", [True, False])
def test_npy_writers_put_the_first_output_back_when_the_second_fails(
    tmp_path, monkeypatch, hard_links
):
    np.save(tmp_path / "X.npy", np.arange(4.0))
    np.save(tmp_path / "y.npy", np.arange(2.0))
    old = _digests(tmp_path / "X.npy", tmp_path / "y.npy")
    if not hard_links:
        # A file system without hard links: the old file moves aside instead.
        def no_link(*args, **kwargs):
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    _fail_replacing(monkeypatch, "y.npy")
    with pytest.raises(OSError, match="Input/output error"):
        with _npy_writer.npy_writers(
            (tmp_path / "X.npy", (3,)), (tmp_path / "y.npy", (3,))
        ) as (X_out, y_out):
            X_out.write(np.ones(3))
            y_out.write(np.ones(3))
    assert _digests(tmp_path / "X.npy", tmp_path / "y.npy") == old
    assert sorted(os.listdir(tmp_path)) == ["X.npy", "y.npy"]


def test_npy_writers_remove_a_new_first_output_when_the_second_fails(
    tmp_path, monkeypatch
):
    _fail_replacing(monkeypatch, "y.npy")
    with pytest.raises(OSError, match="Input/output error"):
        with _npy_writer.npy_writers(
            (tmp_path / "X.npy", (3,)), (tmp_path / "y.npy", (3,))
        ) as (X_out, y_out):
            X_out.write(np.ones(3))
            y_out.write(np.ones(3))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("tool", ["convert", "shuffle"])
def test_tools_keep_both_old_outputs_when_y_cannot_be_put_in_place(
    tmp_path, monkeypatch, tool
):
    X_path, y_path = _pair(tmp_path)
    csv = tmp_path / "data.csv"
    csv.write_text("a,label\n1,0\n2,1\n")
    old_X, old_y = _pair(tmp_path, stem="out", n=3)
    digests = _digests(X_path, y_path, csv, old_X, old_y)
    before = _listing(tmp_path)
    _fail_replacing(monkeypatch, "out_y.npy")
    with pytest.raises(OSError, match="Input/output error"):
        if tool == "convert":
            convert(csv, tmp_path / "out", target="label", overwrite=True)
        else:
            shuffle_on_disk(X_path, y_path, out=tmp_path / "out", overwrite=True)
    assert _digests(*digests) == digests
    assert _listing(tmp_path) == before


# -- 4. errors that say where and what to do -----------------------------------------


def test_bytes_that_are_not_utf8_are_reported_on_their_line(tmp_path, capsys):
    # Far enough down that text is decoded in blocks before reaching it.
    path = tmp_path / "latin1.csv"
    rows = [f"{i},{i + 1}" for i in range(3000)]
    rows[2500] = "2500,caf\xe9"
    path.write_bytes(("a,b\n" + "\n".join(rows) + "\n").encode("latin-1"))
    _refused(
        lambda: convert(path, tmp_path / "out"),
        ConversionError,
        r"latin1\.csv, line 2502: byte 0xe9 \(character 9\) is not UTF-8 text; "
        r"save the file as UTF-8",
        tmp_path,
        inputs=[path],
    )
    assert main(["convert", str(path), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_svmlight_comments_may_be_in_any_encoding(tmp_path):
    path = tmp_path / "data.svm"
    path.write_bytes("1 1:2 # caf\xe9\n0 2:3\n".encode("latin-1"))
    X_path, y_path = convert(path, tmp_path / "out")
    assert_array_equal(np.load(X_path), [[2, 0], [0, 3]])
    assert_array_equal(np.load(y_path), [1, 0])


@pytest.mark.parametrize(
    "body, message",
    [
        # The quote opened on line 2 swallows the rest; the record used to be
        # reported where it ended.
        (
            'a,b\n1,"2\n3,4\n5,6\n',
            r"bad\.csv, line 2: field 2 opens a quote that runs on to line 4; "
            r"close the quote on line 2 or remove it",
        ),
        (
            'a,b\n1,2\n3,"' + "9" * 200_000 + "\n",
            r"bad\.csv, line 3: a field is longer than 131,072 characters, so a "
            r"quote opened on this line is probably never closed",
        ),
        ("a,b\n", r"bad\.csv: no rows of data, only the header on line 1"),
        ("", r"bad\.csv: the file is empty; nothing to convert"),
        ("\n\n  \n", r"bad\.csv: the file is empty; nothing to convert"),
        (
            "a,b\n1,2\n\n3,4,5\n",
            r"bad\.csv, line 4: 3 fields, expected 2 as on line 1; check the "
            r"delimiter \(','\)",
        ),
        (
            "a,b\n1,2\n3,x\n",
            r"bad\.csv, line 3: field 2 \('b'\) is 'x', not a number; write a "
            "number there",
        ),
    ],
    ids=[
        "open-quote",
        "huge-field",
        "header-only",
        "empty",
        "blank-only",
        "ragged",
        "not-a-number",
    ],
)
def test_malformed_csv(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    _refused(
        lambda: convert(path, tmp_path / "out", chunk_rows=2),
        ConversionError,
        message,
        tmp_path,
        inputs=[path],
    )


@pytest.mark.parametrize(
    "body, kwargs, message",
    [
        (
            "1 1:2 3:1 1:5\n",
            {},
            r"bad\.svm, line 1: feature 1 appears twice \(1:2 and 1:5\); list "
            "each feature once",
        ),
        (
            "1 1:2\n\n# note\n0 2:1 9:1\n",
            {"n_features": 3},
            r"bad\.svm, line 4: feature 9 is beyond n_features=3; raise "
            "n_features to at least 9",
        ),
        ("1:2 3:4\n", {}, r"bad\.svm, line 1: the line starts with '1:2', not a"),
        ("# only a comment\n\n", {}, r"bad\.svm: the file holds no rows"),
        (
            "1 1:2\n",
            {"target": "label"},
            r"target applies to Parquet, Arrow and CSV files only, and "
            r"'[^']*bad\.svm' is read as svmlight",
        ),
    ],
    ids=["duplicate", "beyond-n_features", "no-label", "no-rows", "csv-option"],
)
def test_malformed_svmlight(tmp_path, body, kwargs, message):
    path = tmp_path / "bad.svm"
    path.write_text(body)
    _refused(
        lambda: convert(path, tmp_path / "out", **kwargs),
        (ConversionError, ValueError),
        message,
        tmp_path,
        inputs=[path],
    )


def test_wide_svmlight_rows_are_converted_a_few_at_a_time(tmp_path):
    # A million features: 65,536 dense rows at once would be 512 GB.
    path = tmp_path / "wide.svm"
    path.write_text("1 1:1 1000000:2\n0 5:1\n")
    tracemalloc.start()
    try:
        X_path, _ = convert(path, tmp_path / "out", dtype="float32")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 80 * 2**20, peak
    X = np.load(X_path, mmap_mode="r")
    assert X.shape == (2, 1_000_000)
    assert X[0, 999_999] == 2 and X[1, 4] == 1


@pytest.mark.parametrize(
    "target, message",
    [
        ("nope", r"data\.csv: no column named 'nope'; the columns are 'a', 'b', "),
        (5, r"data\.csv: column 5 is out of range for 3 columns; pass an index from"),
    ],
    ids=["name", "index"],
)
def test_a_target_that_is_not_a_column(tmp_path, target, message):
    path = tmp_path / "data.csv"
    path.write_text("a,b,label\n1,2,3\n")
    _refused(
        lambda: convert(path, tmp_path / "out", target=target),
        ValueError,
        message,
        tmp_path,
        inputs=[path],
    )


def test_a_target_name_in_a_file_without_header(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("1,2,3\n")
    _refused(
        lambda: convert(path, tmp_path / "out", target="label"),
        ValueError,
        r"no column named 'label', as the file has no header line; pass the "
        r"index of the target column \(0 to 2, negative from the end\)",
        tmp_path,
        inputs=[path],
    )


@pytest.mark.parametrize(
    "start, message",
    [
        (b"\x93NUMPY\x01\x00", "is a .npy file already"),
        (b"PK\x03\x04\x14\x00", "is a zip archive or an Excel workbook"),
        (b"\x1f\x8b\x08\x00", "is gzip-compressed; decompress it first"),
        (b"\xff\xfea\x00,\x00", "is UTF-16 text; save it as UTF-8"),
    ],
    ids=["npy", "xlsx", "gzip", "utf16"],
)
def test_a_file_that_is_not_text(tmp_path, start, message):
    path = tmp_path / "data.csv"
    path.write_bytes(start + b"\x00" * 64)
    _refused(
        lambda: convert(path, tmp_path / "out"),
        ConversionError,
        rf"data\.csv: the file {re.escape(message)}",
        tmp_path,
        inputs=[path],
    )


def test_a_missing_output_folder_is_named(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("1,2\n")
    X_path, y_path = _pair(tmp_path)
    message = r"the output folder '[^']*nowhere' does not exist; create it"
    _refused(
        lambda: convert(path, tmp_path / "nowhere" / "out"),
        FileNotFoundError,
        message,
        tmp_path,
    )
    _refused(
        lambda: shuffle_on_disk(X_path, y_path, out=tmp_path / "nowhere" / "out"),
        FileNotFoundError,
        message,
        tmp_path,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"delimiter": "ab"}, r"delimiter must be one character .* got 'ab'"),
        ({"delimiter": '"'}, "delimiter must be one character other than a quote"),
        ({"chunk_rows": 0}, "chunk_rows must be positive, got 0"),
        ({"chunk_rows": 2.5}, "chunk_rows must be a whole number, got 2.5"),
        ({"dtype": "int8"}, "dtype must be float32 or float64, got int8"),
        ({"dtype": "nonsense"}, "dtype must be float32 or float64, got None"),
        ({"n_features": 3}, "n_features applies to svmlight files only"),
    ],
    ids=[
        "delimiter-2",
        "delimiter-quote",
        "chunk-0",
        "chunk-float",
        "dtype-int8",
        "dtype-bad",
        "n_features-csv",
    ],
)
def test_convert_arguments(tmp_path, kwargs, message):
    path = tmp_path / "data.csv"
    path.write_text("1,2\n")
    _refused(
        lambda: convert(path, tmp_path / "out", **kwargs),
        ValueError,
        message,
        tmp_path,
        inputs=[path],
    )


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1.0, 0, "8"])
def test_shuffle_buffer_mb_must_be_a_positive_finite_number(tmp_path, value):
    X_path, _ = _pair(tmp_path)
    _refused(
        lambda: shuffle_on_disk(X_path, out=tmp_path / "s", buffer_mb=value),
        ValueError,
        rf"buffer_mb must be a positive, finite number of megabytes, got "
        rf"{re.escape(repr(value))}",
        tmp_path,
        inputs=[X_path],
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["shuffle", "X.npy", "s", "--buffer-mb", "inf"], "--buffer-mb: 'inf' is"),
        (["shuffle", "X.npy", "s", "--buffer-mb", "nan"], "--buffer-mb: 'nan' is"),
        (["shuffle", "X.npy", "s", "--buffer-mb", "-1"], "--buffer-mb: '-1' is not"),
        (["shuffle", "X.npy", "s", "--buffer-mb", "0"], "--buffer-mb: '0' is not a"),
        (["shuffle", "X.npy", "s", "--seed", "-1"], "--seed: '-1' is below 0"),
        (["convert", "d.csv", "o", "--chunk-rows", "0"], "--chunk-rows: '0' is"),
        (["convert", "d.csv", "o", "--delimiter", "ab"], "--delimiter: 'ab' is not"),
        (["convert", "d.csv", "o", "--n-features", "-2"], "--n-features: '-2' is"),
        (["convert", "d.csv", "o", "--header", "maybe"], "--header: invalid choice"),
        (["demo", "--size-mb", "inf"], "--size-mb: 'inf' is not a positive"),
        (["demo", "--n-jobs", "0"], "--n-jobs: 0 threads"),
    ],
    ids=[
        "buffer-inf",
        "buffer-nan",
        "buffer-neg",
        "buffer-0",
        "seed-neg",
        "chunk-0",
        "delimiter-2",
        "n_features-neg",
        "header",
        "size-inf",
        "n_jobs-0",
    ],
)
def test_bad_numbers_on_the_command_line_are_usage_errors(tmp_path, argv, message):
    X_path, _ = _pair(tmp_path, stem="X")
    (tmp_path / "d.csv").write_text("1,2\n")
    before, digests = _listing(tmp_path), _digests(X_path, tmp_path / "d.csv")
    result = _run(*argv, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr
    assert _listing(tmp_path) == before
    assert _digests(X_path, tmp_path / "d.csv") == digests


def test_a_tab_delimiter_can_be_typed(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("1\t2\n3\t4\n")
    assert main(["convert", str(path), str(tmp_path / "o"), "--delimiter", "\\t"]) == 0
    assert_array_equal(np.load(tmp_path / "o_X.npy"), [[1, 2], [3, 4]])


# -- 5. debris of killed runs ---------------------------------------------------------


def _plant_stale(directory, stem):
    """Scratch of a dead process (a file and a folder) and of a live one."""
    dead, alive = _dead_pid(), os.getppid()
    stale_file = directory / f".{stem}.ooc-{dead}-0a1b.tmp"
    stale_file.write_bytes(b"left by a killed run")
    stale_dir = directory / f".shuffle.ooc-{dead}-0a1c.tmp"
    stale_dir.mkdir()
    (stale_dir / "0").write_bytes(b"bucket rows")
    live = directory / f".{stem}.ooc-{alive}-0a1d.tmp"
    live.write_bytes(b"another run, still going")
    return [stale_file, stale_dir], live


@pytest.mark.parametrize("tool", ["convert", "shuffle", "shuffle command"])
def test_the_next_run_removes_what_killed_runs_left(tmp_path, tool):
    X_path, y_path = _pair(tmp_path)
    csv = tmp_path / "data.csv"
    csv.write_text("a,label\n1,0\n2,1\n")
    stale, live = _plant_stale(tmp_path, "out_X.npy")
    if tool == "convert":
        convert(csv, tmp_path / "out", target="label")
    elif tool == "shuffle":
        shuffle_on_disk(X_path, y_path, out=tmp_path / "out", random_state=0)
    else:
        result = _run("shuffle", str(X_path), str(y_path), str(tmp_path / "out"))
        assert result.returncode == 0, result.stderr
    assert not any(os.path.lexists(p) for p in stale)
    assert live.exists()
    assert _scratch(tmp_path) == [live.name]


def test_temporary_names_carry_the_process_id(tmp_path, monkeypatch):
    X_path, y_path = _pair(tmp_path)
    seen = []
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        seen.append(os.path.basename(src))
        return real_replace(src, dst, *args, **kwargs)

    real_read = _shuffle_module().__dict__["_read_rows"]

    def read_rows(f, rows, at):
        seen.append(os.path.basename(os.path.dirname(f.name)))
        return real_read(f, rows, at)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(_shuffle_module(), "_read_rows", read_rows)
    shuffle_on_disk(X_path, y_path, out=tmp_path / "out", random_state=0)
    assert seen
    for name in seen:
        match = _PATTERN.match(name)
        assert match is not None and int(match["pid"]) == os.getpid(), name
    assert {_PATTERN.match(n)["stem"] for n in seen} >= {
        "shuffle",
        "out_X.npy",
        "out_y.npy",
    }


def _shuffle_module():
    import sklearn_ooc.io._shuffle as module

    return module


_KILLED_SHUFFLE = """
import os, signal, sys
import sklearn_ooc.io._shuffle as shuffle

def killed(*args):
    os.kill(os.getpid(), signal.SIGKILL)

shuffle._read_rows = killed
shuffle.shuffle_on_disk(sys.argv[1], sys.argv[2], out=sys.argv[3], buffer_mb=0.01)
"""


def test_a_shuffle_killed_half_way_is_cleaned_by_the_next(tmp_path):
    X_path, y_path = _pair(tmp_path, n=500)
    before = _listing(tmp_path)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_SHUFFLE, X_path, y_path, tmp_path / "out"],
        capture_output=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # The scratch folder and the outputs' temporary files are left ...
    assert len(_scratch(tmp_path)) == 3, _listing(tmp_path)
    result = _run("shuffle", str(X_path), str(y_path), str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    # ... and the next run in the folder removes them.
    assert _listing(tmp_path) == before | {"out_X.npy", "out_y.npy"}
