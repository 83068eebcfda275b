"""Progress of long steps: a bar on a terminal, plain lines anywhere else."""

from __future__ import annotations

import os
import sys
import time

# Seconds between two plain lines; the environment variable shortens it
# (tests, or logs that want more).
_EVERY = float(os.environ.get("SKLEARN_OOC_PROGRESS_SECONDS", 10.0))


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _size(n_bytes):
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n_bytes < 1000 or unit == "TB":
            digits = 0 if unit == "B" else 1
            return f"{n_bytes:,.{digits}f} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:,.1f} TB"  # pragma: no cover


def progress_line(desc, done, total, unit, elapsed, *, unit_bytes=None, final=False):
    """One plain progress line.

    Parameters
    ----------
    desc : str
        What is being done (``"convert data.csv"``).
    done, total : int
        Units done and in all (``total`` may be ``None``: unknown).
    unit : str
        What is counted (``"row"``, ``"batch"``).
    elapsed : float
        Seconds since the start.
    unit_bytes : float, default=None
        Bytes a unit holds, to give the volume and its rate.
    final : bool, default=False
        The last line: what was done and how long it took.

    Returns
    -------
    str

    Examples
    --------
    >>> from sklearn_ooc.data import progress_line
    >>> progress_line("a", 250, 1000, "row", 5.0)
    'a: 250 of 1,000 rows (25%), 50 rows/s, 5 s elapsed, about 15 s left'
    >>> progress_line("a", 1000, 1000, "row", 20.0, final=True)
    'a: 1,000 rows in 20 s'
    """
    units = unit + ("es" if unit.endswith(("s", "x", "ch", "sh")) else "s")
    volume = "" if unit_bytes is None else f" ({_size(done * unit_bytes)})"
    if final:
        return f"{desc}: {done:,} {units}{volume} in {_duration(elapsed)}"
    rate = done / elapsed if elapsed > 0 else 0.0
    if total:
        head = f"{desc}: {done:,} of {total:,} {units} ({100 * done / total:.0f}%)"
    else:
        head = f"{desc}: {done:,} {units}"
    speed = f"{rate:,.0f} {units}/s"
    if unit_bytes is not None:
        speed = f"{_size(rate * unit_bytes)}/s"
    line = f"{head}{volume}, {speed}, {_duration(elapsed)} elapsed"
    if total and rate > 0 and done < total:
        line += f", about {_duration((total - done) / rate)} left"
    return line


class Progress:
    """Progress of a long step, shown as its stream allows.

    On a terminal, a tqdm bar (rows, rate, time left, and the volume when
    ``unit_bytes`` is given) that redraws itself;
    anywhere else (a file, a pipe, a log), plain lines: one every ``every``
    seconds and a last one when the step ends, never a carriage return.

    Parameters
    ----------
    total : int or None
        Units in all.
    desc : str
        What is being done.
    unit : str, default="row"
        What is counted.
    mode : {"auto", "bar", "lines", "off"}, default="auto"
        ``"auto"``: a bar on a terminal, lines elsewhere.
    stream : file, default=None
        Where to write; standard error by default.
    every : float, default=None
        Seconds between plain lines (10, or ``SKLEARN_OOC_PROGRESS_SECONDS``).
    unit_bytes : float, default=None
        Bytes a unit holds, to report volumes and rates in bytes.
    clock : callable, default=time.monotonic
        The clock (tests give a fake one).

    Examples
    --------
    >>> import io
    >>> from sklearn_ooc.data import Progress
    >>> out = io.StringIO()
    >>> ticks = iter([0.0, 1.0, 2.0, 3.0])
    >>> with Progress(10, "demo", mode="lines", stream=out, every=1.5,
    ...               clock=lambda: next(ticks)) as progress:
    ...     progress.update(4)
    ...     progress.update(6)
    >>> print(out.getvalue(), end="")
    demo: 10 of 10 rows (100%), 5 rows/s, 2 s elapsed
    demo: 10 rows in 3 s
    """

    def __init__(
        self,
        total,
        desc,
        *,
        unit="row",
        mode="auto",
        stream=None,
        every=None,
        unit_bytes=None,
        clock=time.monotonic,
    ):
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = sys.stderr if stream is None else stream
        if mode == "auto":
            isatty = getattr(self.stream, "isatty", None)
            mode = "bar" if isatty is not None and isatty() else "lines"
        if mode not in ("bar", "lines", "off"):
            raise ValueError(
                f"mode must be 'auto', 'bar', 'lines' or 'off'; got {mode!r}"
            )
        self.mode = mode
        self.every = _EVERY if every is None else every
        self.unit_bytes = unit_bytes
        self.clock = clock
        self.done = 0
        self._bar = None
        self._start = clock()
        self._last = self._start
        if mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                desc=desc,
                unit=unit,
                unit_scale=unit == "row",
                leave=False,
                file=self.stream,
            )

    def update(self, n=1):
        """Count ``n`` more units done."""
        self.done += n
        if self._bar is not None:
            if self.unit_bytes is not None:
                # The volume beside the rows, their rate and the time left.
                volume = _size(self.done * self.unit_bytes)
                self._bar.set_postfix_str(volume, refresh=False)
            self._bar.update(n)
        elif self.mode == "lines":
            now = self.clock()
            if now - self._last >= self.every:
                self._last = now
                self._write(now, final=False)

    def _write(self, now, final):
        line = progress_line(
            self.desc,
            self.done,
            self.total,
            self.unit,
            now - self._start,
            unit_bytes=self.unit_bytes,
            final=final,
        )
        print(line, file=self.stream, flush=True)

    def close(self):
        """End the step: the bar is removed, or the last line written."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "lines":
            self._write(self.clock(), final=True)
            self.mode = "off"

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        elif self._bar is not None:
            self._bar.close()
        return False
