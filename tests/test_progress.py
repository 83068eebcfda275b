"""Progress of long steps: a bar on a terminal, plain lines elsewhere."""

import io
import re

import numpy as np
import pytest

from sklearn_ooc.data import Progress, progress_line


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _clock(*ticks):
    ticks = iter(ticks)
    return lambda: next(ticks)


def test_a_line_says_rows_share_rate_and_time_left():
    line = progress_line("convert a.csv", 1_200_000, 4_800_000, "row", 30.0)
    assert line == (
        "convert a.csv: 1,200,000 of 4,800,000 rows (25%), 40,000 rows/s, "
        "30 s elapsed, about 1 min 30 s left"
    )
    assert progress_line("x", 10, None, "batch", 2.0) == (
        "x: 10 batches, 5 batches/s, 2 s elapsed"
    )
    with_bytes = progress_line("x", 1000, 2000, "row", 1.0, unit_bytes=1000)
    assert "(1.0 MB)" in with_bytes and "1.0 MB/s" in with_bytes
    assert (
        progress_line("x", 7, 7, "row", 3725.0, final=True) == "x: 7 rows in 1 h 02 min"
    )


def test_lines_every_interval_and_a_last_one_never_a_carriage_return():
    out = io.StringIO()
    progress = Progress(
        100,
        "step",
        stream=out,
        every=10.0,
        clock=_clock(0.0, 4.0, 11.0, 15.0, 30.0, 31.0, 32.0),
    )
    assert progress.mode == "lines"  # a StringIO is not a terminal
    for _ in range(5):
        progress.update(20)
    progress.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines == [
        "step: 40 of 100 rows (40%), 4 rows/s, 11 s elapsed, about 16 s left",
        "step: 80 of 100 rows (80%), 3 rows/s, 30 s elapsed, about 8 s left",
        "step: 100 rows in 32 s",
    ]


def test_a_terminal_gets_tqdms_bar():
    out = _Terminal()
    with Progress(50, "step", stream=out, unit_bytes=1000) as progress:
        assert progress.mode == "bar"
        progress.update(25)
        progress.update(25)
        assert "50.0 kB" in progress._bar.postfix  # the volume beside the rows
    assert re.search(r"step: +\d+%\|", out.getvalue())


def test_off_writes_nothing_and_a_bad_mode_is_refused():
    out = io.StringIO()
    with Progress(5, "step", mode="off", stream=out) as progress:
        progress.update(5)
    assert out.getvalue() == ""
    with pytest.raises(ValueError, match="mode must be 'auto', 'bar', 'lines'"):
        Progress(5, "step", mode="loud")


def test_a_failing_step_writes_no_last_line():
    out = io.StringIO()
    with pytest.raises(RuntimeError):
        with Progress(5, "step", stream=out, every=1e9):
            raise RuntimeError("disk full")
    assert out.getvalue() == ""


def test_writing_a_lazy_array_reports_lines_in_a_log(tmp_path, capsys):
    from sklearn_ooc import LazyArray

    view = LazyArray(np.ones((40, 2))).map(lambda b: b * 2.0)
    view.to_npy(tmp_path / "o.npy", batch_size=7, verbose=1)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert re.fullmatch(r"to_npy: 40 rows in \d+ s\n", err)
