"""Bad input at the data layer: lying stores, files changed during a fit,
files that are not regular files, damaged ``.npy`` headers, ``bytes`` paths.

What could kill the interpreter (a kernel indexing out of bounds, a memory
map touching pages beyond the end of a truncated file) or hang it (a FIFO)
runs in a subprocess with a timeout, so that a regression fails a test
instead of ending the run.
"""

import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_ooc import open_array
from sklearn_ooc.data import BatchSource, EpochPlan, open_npy
from sklearn_ooc.linear_model import StreamingRidge
from sklearn_ooc.mixture import OOCGaussianMixture

from .conftest import file_digest, fitted_state

REPO = Path(__file__).resolve().parents[1]


def _run(code, timeout=120, cwd=None):
    """Run ``code`` in a fresh interpreter; fail (not hang) if it does not end."""
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or REPO,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the subprocess hung for {timeout} s: {exc.stdout!r}")


def _assert_survived(result):
    """The subprocess ended by itself: no signal (SIGSEGV, SIGBUS), no error."""
    assert result.returncode >= 0, (
        f"killed by signal {-result.returncode}; stdout: {result.stdout!r}; "
        f"stderr: {result.stderr[-2000:]!r}"
    )
    assert result.returncode == 0, result.stderr[-2000:]


# -- stores whose slices do not return what they declare -------------------------


class LyingStore:
    """An array store (like an h5py dataset) whose reads covering row ``bad``
    return something else than asked: fewer or more rows, fewer or more
    columns, strings, one dimension."""

    def __init__(self, array, how, bad=237):
        self._array = array
        self.shape = array.shape
        self.dtype = array.dtype
        self.how = how
        self.bad = bad

    def _covers(self, key):
        if isinstance(key, slice):
            return key.start <= self.bad < key.stop
        return self.bad in np.asarray(key)

    def __getitem__(self, key):
        block = self._array[key].copy()
        if not self._covers(key):
            return block
        if self.how == "fewer rows":
            return block[:-3]
        if self.how == "more rows":
            return np.concatenate([block, block[:2]])
        if self.how == "fewer columns":
            return block[..., :-1]
        if self.how == "more columns":
            return np.concatenate([block, block], axis=-1)
        if self.how == "strings":
            return block.astype(str)
        if self.how == "one dimension":
            return block.ravel()
        raise AssertionError(self.how)


LIES = {
    "fewer rows": r"has shape \(47, 3\); expected \(50, 3\)",
    "more rows": r"has shape \(52, 3\); expected \(50, 3\)",
    "fewer columns": r"has shape \(50, 2\); expected \(50, 3\)",
    "more columns": r"has shape \(50, 6\); expected \(50, 3\)",
    "strings": r"has dtype <U\d+; expected numbers \(the source declares float64\)",
    "one dimension": r"has shape \(150,\); expected \(50, 3\)",
}


@pytest.fixture
def X(rng):
    return rng.normal(size=(300, 3))


@pytest.mark.parametrize("how", LIES)
def test_a_batch_of_another_shape_is_refused_with_batch_rows_and_source(X, how):
    source = BatchSource(LyingStore(X, how), batch_size=50)
    assert_array_equal(source.read(3).X, X[150:200])
    with pytest.raises(
        ValueError,
        match=r"^X batch 4 \(rows 200-249\) read from <.*LyingStore object at .*> "
        + LIES[how]
        + ": the source returned other data than it declares",
    ):
        source.read(4)


@pytest.mark.parametrize("name", ["y", "sample_weight"])
def test_targets_and_weights_must_be_aligned_in_every_batch(X, name):
    values = np.linspace(1.0, 2.0, 300)
    store = LyingStore(values, "fewer rows")
    y, w = (store, None) if name == "y" else (values, store)
    source = BatchSource(X, y, w, batch_size=50)
    with pytest.raises(
        ValueError,
        match=rf"^{name} batch 4 \(rows 200-249\) read from .*LyingStore.* has "
        r"shape \(47,\); expected \(50,\)",
    ):
        source.read(4)


def test_labels_of_any_dtype_are_checked_for_rows_only(X):
    labels = np.array(["a", "b", "c"])[np.arange(300) % 3]
    source = BatchSource(
        X, LyingStore(labels, "fewer rows"), batch_size=50, y_numeric=False
    )
    assert_array_equal(source.read(0).y, labels[:50])
    with pytest.raises(ValueError, match=r"^y batch 4 .* has shape \(47,\)"):
        source.read(4)


def test_sampled_rows_and_weights_are_checked_too(X):
    source = BatchSource(
        LyingStore(X, "fewer columns"),
        sample_weight=LyingStore(np.ones(300), "fewer rows"),
        batch_size=50,
    )
    assert_array_equal(source.take([5, 1]), X[[5, 1]])
    with pytest.raises(
        ValueError,
        match=r"^X sample of 2 rows read from .*LyingStore.* has shape \(2, 2\)",
    ):
        source.take([237, 5])
    with pytest.raises(
        ValueError,
        match=r"^sample_weight sample of 4 rows read from .*LyingStore.* has "
        r"shape \(1,\); expected \(4,\)",
    ):
        source.weights_of([237, 5, 6, 7])


def test_a_view_of_a_lying_store_is_checked_when_read(X):
    view = open_array(LyingStore(X, "fewer rows"))[::2]
    with pytest.raises(ValueError, match=r"^X batch 2 \(rows 100-149\) .* LazyArray"):
        BatchSource(view, batch_size=50).read(2)


def test_a_dask_chunk_of_another_shape_is_refused(X):
    da = pytest.importorskip("dask.array")

    def drop_a_row(block):
        if block.shape[0] and block[0, 0] == X[200, 0]:
            return block[:-1]
        return block

    # Chunks declared whole, one of which loses a row when computed.
    lying = da.from_array(X, chunks=(50, 3)).map_blocks(drop_a_row, dtype=X.dtype)
    with pytest.raises(
        ValueError,
        match=r"^X batch 4 \(rows 200-249\) read from dask.array<.*> has shape "
        r"\(49, 3\); expected \(50, 3\)",
    ):
        StreamingRidge().fit(lying, X[:, 0])


@pytest.mark.parametrize("shape", [(300, 2.5), (-300, 3), ("300", 3)])
def test_a_store_declaring_an_impossible_shape_is_refused(X, shape):
    store = LyingStore(X, "fewer rows")
    store.shape = shape
    with pytest.raises(
        ValueError, match=r"^X declares shape .*; expected non-negative integers"
    ):
        BatchSource(store)


def test_every_estimator_refuses_a_lying_store_and_is_left_unchanged():
    # One subprocess for the whole matrix: before the check, a kernel reading
    # past the rows a store returned could kill the interpreter (SIGSEGV).
    result = _run(
        """
        import json, warnings
        import numpy as np
        from tests.conftest import DISCRETE_ROWS, fitted_state
        from tests.test_bad_input import (
            ESTIMATORS, X_GOOD, _call, _fit_methods, _fit_reads_every_row, _fitted,
            _predict_methods, _y_for,
        )
        from tests.test_bad_input_data import LyingStore

        warnings.simplefilter("ignore")
        outcomes = {}
        for est_id, est in ESTIMATORS.items():
            if type(est).__name__ in DISCRETE_ROWS:
                continue  # rows of codes: their own modules test such stores
            for method in _fit_methods(est) + _predict_methods(est)[:1]:
                if method == "fit" and not _fit_reads_every_row(est):
                    continue  # fitted on the first batch only, before row 237
                est = _fitted(est_id)
                state = fitted_state(est)
                store = LyingStore(X_GOOD, "fewer rows")
                try:
                    _call(est, method, store, _y_for(est))()
                    outcome = "accepted"
                except Exception as exc:
                    outcome = f"{type(exc).__name__}: {exc}"
                if fitted_state(est) != state:
                    outcome += " [estimator changed]"
                outcomes[f"{est_id}.{method}"] = outcome
                print(est_id, method, flush=True)
        print(json.dumps(outcomes))
        """,
        timeout=900,
    )
    _assert_survived(result)
    outcomes = json.loads(result.stdout.splitlines()[-1])
    assert len(outcomes) > 20
    wrong = {
        case: outcome
        for case, outcome in outcomes.items()
        if not outcome.startswith("ValueError: X ")
        or "LyingStore object" not in outcome
        or "the source returned other data than it declares" not in outcome
        or outcome.endswith("[estimator changed]")
    }
    assert not wrong, wrong


# -- files changed during a fit ---------------------------------------------------


def _save(path, array):
    np.save(path, array)
    return path


def test_a_file_truncated_during_a_fit_is_an_error_not_sigbus(tmp_path, rng):
    X = rng.normal(size=(4000, 4))
    y = X @ [1.0, 2.0, 3.0, 4.0]
    _save(tmp_path / "X.npy", X)
    _save(tmp_path / "y.npy", y)
    result = _run(
        f"""
        import os, pickle
        import numpy as np
        from sklearn_ooc.linear_model import StreamingRidge

        X_path, y_path = {str(tmp_path / "X.npy")!r}, {str(tmp_path / "y.npy")!r}

        class TruncatingRidge(StreamingRidge):
            # Cuts the file to its first 2,000 rows while the first batch is
            # summarized: batches read ahead (1 and 2) keep their pages,
            # batch 3 onwards would be read beyond the end of the file.
            def _summarize(self, batch):
                if batch.index == 0 and CUT:
                    size = os.path.getsize(X_path)
                    with open(X_path, "r+b") as f:
                        f.truncate(size - 2000 * 4 * 8)
                return super()._summarize(batch)

        CUT = False
        model = TruncatingRidge(batch_size=100).fit(X_path, y_path)
        before = pickle.dumps(model.__dict__)
        CUT = True
        try:
            model.fit(X_path, y_path)
        except ValueError as exc:
            print(exc)
        print("unchanged", pickle.dumps(model.__dict__) == before)
        """
    )
    _assert_survived(result)
    # Which batch meets the change depends on how far the prefetching thread
    # had read: batch 1, 2 or 3, each checked before it is read.
    assert re.search(
        rf"^X file '{re.escape(str(tmp_path / 'X.npy'))}' changed during the fit, "
        r"before batch [123] \(rows \d00-\d99\) was read: its size went from "
        r"128128 to 64128 bytes\.",
        result.stdout,
    ), result.stdout
    assert "unchanged True" in result.stdout


@pytest.mark.parametrize("kind", ["memmap", "asarray of a memmap", "LazyArray"])
def test_a_map_of_a_file_truncated_before_the_fit_is_refused(tmp_path, rng, kind):
    path = _save(tmp_path / "X.npy", rng.normal(size=(4000, 4)))
    opened = {
        "memmap": "np.load(path, mmap_mode='r')",
        "asarray of a memmap": "np.asarray(np.load(path, mmap_mode='r'))",
        "LazyArray": "open_array(path)",
    }[kind]
    result = _run(
        f"""
        import os
        import numpy as np
        from sklearn_ooc import open_array
        from sklearn_ooc.data import BatchSource

        path = {str(path)!r}
        X = {opened}
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        try:
            BatchSource(X, batch_size=100).read(30)
        except ValueError as exc:
            print(exc)
        """
    )
    _assert_survived(result)
    if kind == "LazyArray":
        expected = (
            f"X file '{path}' changed since it was opened, before any row was "
            "read: its size went from 128128 to 64064 bytes"
        )
    else:
        expected = (
            f"X file '{path}' is shorter than its memory map: 64064 bytes, the "
            "map reads up to byte 128128"
        )
    assert expected in result.stdout, result.stdout


def test_a_lazy_array_read_after_its_file_shrank_is_refused(tmp_path, rng):
    path = _save(tmp_path / "X.npy", rng.normal(size=(4000, 4)))
    result = _run(
        f"""
        import os
        import numpy as np
        from sklearn_ooc import open_array

        path = {str(path)!r}
        view = open_array(path)[::3]
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        for read in (lambda: np.asarray(view), lambda: view.take([1300])):
            try:
                read()
            except ValueError as exc:
                print(exc)
        """
    )
    _assert_survived(result)
    assert (
        f"data file '{path}' changed since it was opened, before rows 0-1333 of the "
        "view were read: its size went from 128128 to 64064 bytes"
    ) in result.stdout, result.stdout
    assert "before 1 rows of the view were read" in result.stdout


class _ChangingMixture(OOCGaussianMixture):
    """Calls ``change()`` (set by the test) before its second pass."""

    change = None

    def _prepare_pass(self):
        self._passes = getattr(self, "_passes", 0) + 1
        if self._passes == 2 and type(self).change is not None:
            type(self).change()
        super()._prepare_pass()


def _rewrite_row(path, row, values):
    """Write ``values`` over row ``row`` of the C-order float64 ``.npy``."""
    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        offset = f.tell()
    with open(path, "r+b") as f:
        f.seek(offset + row * 8 * len(values))
        f.write(np.asarray(values, dtype=np.float64).tobytes())


def _append(path, data):
    with open(path, "ab") as f:
        f.write(data)


CHANGES = {
    "NaN written in place": (
        lambda path, X: _rewrite_row(path, 77, [np.nan, 0.0]),
        r"it was modified \(its modification time changed\)",
    ),
    "replaced by another file": (
        lambda path, X: (
            np.save(path.with_name("new.npy"), X + 1.0),
            os.replace(path.with_name("new.npy"), path),
        ),
        "it was replaced by another file",
    ),
    "rows appended": (
        lambda path, X: _append(path, b"\0" * 64),
        r"its size went from \d+ to \d+ bytes",
    ),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("change", CHANGES)
def test_a_file_changed_between_passes_of_a_fit_is_refused(
    tmp_path, rng, monkeypatch, change
):
    # In place, the rows change under the memory map with no SIGBUS: the
    # pass that follows would read them unchecked (they were validated in
    # the first pass) and give NaN means.
    X = np.vstack([rng.normal(-3, 1, (100, 2)), rng.normal(3, 1, (100, 2))])
    path = _save(tmp_path / "X.npy", X)
    model = _ChangingMixture(2, max_iter=4, tol=0.0, batch_size=40, random_state=0)
    model.fit(path)
    model.__dict__.pop("_passes", None)
    state = fitted_state(model)
    write, what = CHANGES[change]
    # Timestamps of some file systems tick every few ms: let one tick pass.
    monkeypatch.setattr(
        _ChangingMixture, "change", lambda: (time.sleep(0.02), write(path, X))
    )
    with pytest.raises(
        ValueError,
        match=rf"^X file '{re.escape(str(path))}' changed during the fit, before "
        r"batch 0 "
        rf"\(rows 0-39\) was read: {what}\. Rows read before and after a change",
    ):
        model.fit(path)
    model.__dict__.pop("_passes", None)
    assert fitted_state(model) == state
    assert np.isfinite(model.means_).all()


def test_y_and_weight_files_are_watched_too(tmp_path, rng):
    X = rng.normal(size=(100, 2))
    y_path = _save(tmp_path / "y.npy", np.arange(100.0))
    w_path = _save(tmp_path / "w.npy", np.ones(100))
    source = BatchSource(X, y_path, np.load(w_path, mmap_mode="r"), batch_size=30)
    source.read(0)
    time.sleep(0.02)
    _rewrite_row(w_path, 50, [2.0])
    with pytest.raises(
        ValueError,
        match=r"^sample_weight file '.*w\.npy' changed during the fit, before batch "
        r"1 \(rows 30-59\) was read: it was modified",
    ):
        source.read(1)
    with pytest.raises(ValueError, match=r"before 2 sampled rows were read"):
        source.take([1, 2])
    source = BatchSource(X, y_path, batch_size=30)
    os.remove(y_path)
    with pytest.raises(
        ValueError,
        match=r"^y file '.*y\.npy' changed during the fit, before batch 0 \(rows "
        r"0-29\) was read: it can no longer be read \(No such file",
    ):
        source.read(0)


def test_reading_again_mapping_again_and_pickling_are_not_changes(tmp_path, rng):
    X = rng.normal(size=(60, 3))
    path = _save(tmp_path / "X.npy", X)
    digest = file_digest(path)
    source = BatchSource(path, batch_size=25)
    again = pickle.loads(pickle.dumps(source))
    for s in (source, again, source):
        assert_array_equal(np.vstack([s.read(i).X for i in range(s.n_batches)]), X)
    view = open_array(path)
    assert_array_equal(np.asarray(pickle.loads(pickle.dumps(view[5:9]))), X[5:9])
    assert file_digest(path) == digest


def test_a_memmap_of_a_removed_file_is_still_read(tmp_path, rng):
    # A temporary file removed once mapped: its pages stay valid while mapped.
    X = rng.normal(size=(50, 2))
    path = _save(tmp_path / "X.npy", X)
    mapped = np.load(path, mmap_mode="r")
    os.remove(path)
    source = BatchSource(mapped, batch_size=20)
    assert_array_equal(np.vstack([source.read(i).X for i in range(3)]), X)


# -- what is not a regular file ---------------------------------------------------


@pytest.fixture
def fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    path = tmp_path / "X.npy"
    os.mkfifo(path)
    return path


FIFO_ERROR = "X path '{}' is a named pipe (FIFO), not a regular file; expected a .npy"


@pytest.mark.parametrize(
    "call",
    [
        "BatchSource(path)",
        "open_array(path)",
        "StreamingRidge().fit(path, np.zeros(3))",
        "StreamingRidge().fit(np.zeros((3, 2)), path)",
        "StreamingRidge().fit(os.fsencode(path), np.zeros(3))",
    ],
)
def test_a_fifo_is_refused_without_blocking(fifo, call):
    result = _run(
        f"""
        import os
        import numpy as np
        from sklearn_ooc import open_array
        from sklearn_ooc.data import BatchSource
        from sklearn_ooc.linear_model import StreamingRidge

        path = {str(fifo)!r}
        try:
            {call}
        except ValueError as exc:
            print(exc)
        """,
        timeout=60,
    )
    _assert_survived(result)
    expected = FIFO_ERROR.format(fifo)
    if "np.zeros((3, 2)), path" in call:
        expected = "y" + expected[1:]
    if "open_array" in call:
        expected = "data" + expected[1:]
    assert expected in result.stdout, result.stdout


def test_info_of_a_fifo_is_refused_without_blocking(fifo):
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_ooc", "info", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "is a named pipe (FIFO), not a regular file" in result.stderr


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_character_device_is_refused(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(
        ValueError,
        match=rf"^X path '{device}' is a character device, not a regular file",
    ):
        BatchSource(device)


def test_a_symlink_to_a_npy_file_is_read(tmp_path, rng):
    X = rng.normal(size=(10, 2))
    link = tmp_path / "link.npy"
    link.symlink_to(_save(tmp_path / "X.npy", X))
    assert_array_equal(BatchSource(link).read(0).X, X)


# -- damaged headers, bytes paths, Fortran order ----------------------------------


def _header_only(path, shape, data_bytes=64):
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": shape}
        )
        f.write(b"\0" * data_bytes)
    return path


HEADERS = {
    "2**62 x 2**62": (
        (2**62, 2**62),
        r"has a damaged \.npy header: shape \(4611686018427387904, "
        r"4611686018427387904\) of float64 is too large for any array",
    ),
    "2**64 rows": (
        (2**64,),
        r"has a damaged \.npy header: shape \(18446744073709551616,\) of float64 is "
        r"too large for any array",
    ),
    "overflow when empty": (
        (0, 2**62),
        r"has a damaged \.npy header: shape \(0, 4611686018427387904\) of float64 "
        r"is too large for any array",
    ),
    "negative rows": (
        (-1, 3),
        r"has a damaged \.npy header: shape \(-1, 3\) has a negative dimension",
    ),
    "negative columns": (
        (3, -1),
        r"has a damaged \.npy header: shape \(3, -1\) has a negative dimension",
    ),
    "more than the file": (
        (2**40, 3),
        r"is truncated: its header announces shape \(1099511627776, 3\) of float64 "
        r"\(26388279066624 bytes of data\) but only 64 bytes follow the header",
    ),
}


@pytest.mark.parametrize("header", HEADERS)
def test_a_header_with_an_impossible_shape_is_refused(tmp_path, header):
    shape, message = HEADERS[header]
    path = _header_only(tmp_path / "X.npy", shape)
    digest = file_digest(path)
    model = StreamingRidge().fit(np.eye(3), [1.0, 2.0, 3.0])
    state = fitted_state(model)
    with pytest.raises(ValueError, match=rf"^X file '.*X\.npy' {message}"):
        model.fit(path, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=message):
        open_array(path)
    assert fitted_state(model) == state
    assert file_digest(path) == digest


def test_an_unknown_format_version_is_refused(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, np.ones((3, 2)))
    data = bytearray(path.read_bytes())
    data[6:8] = b"\x09\x00"
    path.write_bytes(bytes(data))
    with pytest.raises(
        ValueError, match=r"has \.npy format version 9\.0; versions 1\.0, 2\.0"
    ):
        open_npy(path)


def test_a_bytes_path_is_a_path(tmp_path, rng):
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, 2.0, 3.0]
    X_path, y_path = _save(tmp_path / "X.npy", X), _save(tmp_path / "y.npy", y)
    raw_X, raw_y = os.fsencode(X_path), os.fsencode(y_path)
    expected = StreamingRidge(batch_size=15).fit(X_path, y_path)
    model = StreamingRidge(batch_size=15).fit(raw_X, raw_y)
    assert model.coef_.tobytes() == expected.coef_.tobytes()
    assert_array_equal(model.predict(raw_X), expected.predict(X))
    assert_array_equal(np.asarray(open_array(raw_X)[[3, 1]]), X[[3, 1]])
    with pytest.raises(FileNotFoundError, match=r"X file '.*nope\.npy' does not"):
        BatchSource(os.fsencode(tmp_path / "nope.npy"))


def test_a_fortran_order_file_gives_the_rows_of_the_array(tmp_path, rng):
    # Mapped in Fortran order, a batch of rows is gathered across the
    # columns and copied into C order: the same rows, the same model.
    X = rng.normal(size=(50, 3))
    y = X @ [1.0, -1.0, 2.0]
    path = _save(tmp_path / "F.npy", np.asfortranarray(X))
    source = BatchSource(path, y, batch_size=16)
    batch = source.read(1)
    assert batch.X.flags.c_contiguous
    assert_array_equal(batch.X, X[16:32])
    assert_array_equal(source.take([49, 0]), X[[49, 0]])
    assert_array_equal(np.asarray(open_array(path)[[7, 2]]), X[[7, 2]])
    model = StreamingRidge(batch_size=16).fit(path, y)
    expected = StreamingRidge(batch_size=16).fit(X, y)
    assert model.coef_.tobytes() == expected.coef_.tobytes()


# -- epoch plans -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_batches": 2.5}, r"n_batches must be a positive int, got 2\.5"),
        ({"n_batches": 0}, "n_batches must be a positive int, got 0"),
        ({"n_batches": 4, "cursor": "1"}, "cursor must be an int, got '1'"),
    ],
)
def test_an_epoch_plan_refuses_what_is_not_a_count(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EpochPlan(**kwargs)
