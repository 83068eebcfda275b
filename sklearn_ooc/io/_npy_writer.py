"""Writing ``.npy`` files chunk by chunk, atomically."""

import contextlib
import itertools
import os

import numpy as np

_serial = itertools.count()


def release_pages(f):
    """Send ``f``'s written pages to disk and drop those already there.

    Streaming a file larger than memory through the page cache leaves the
    system dirty pages to write back later and new pages to find for every
    chunk. Called as the file is written, this starts the write-back of what
    is new without waiting for it, and frees the pages already written back,
    so the next chunks reuse them. Linux's ``POSIX_FADV_DONTNEED`` does both;
    where it is missing, the page cache works as usual.
    """
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


class NpyWriter:
    """Write a 1-D or 2-D ``.npy`` file of known shape, a chunk of rows at a time.

    Rows go to a temporary file next to ``path``; :meth:`close` checks that
    every announced row was written and renames the file into place, so
    ``path`` appears only complete. Leaving the ``with`` block on an error
    removes the temporary file and leaves ``path`` untouched.

    Parameters
    ----------
    path : str or os.PathLike
        Final location of the file.
    shape : tuple of int
        Shape of the whole array.
    dtype : dtype, default=float64
        Element type; chunks are converted to it.
    evict : bool, default=False
        After every chunk, start writing it to disk and drop the chunks
        already written from the page cache (Linux's ``POSIX_FADV_DONTNEED``):
        for files larger than memory, which the cache cannot keep anyway.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn_ooc.io import NpyWriter
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> with NpyWriter(path, (4, 2)) as out:
    ...     out.write(np.zeros((3, 2)))
    ...     out.write(np.ones((1, 2)))
    >>> np.load(path).sum()
    np.float64(2.0)
    """

    def __init__(self, path, shape, dtype=np.float64, *, evict=False):
        self.path = os.fspath(path)
        self.evict = evict
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.rows_written = 0
        directory, name = os.path.split(os.path.abspath(self.path))
        self.tmp_path = os.path.join(
            directory, f".{name}.{os.getpid()}.{next(_serial)}.tmp"
        )
        self._file = open(self.tmp_path, "wb")
        try:
            header = {
                "descr": np.lib.format.dtype_to_descr(self.dtype),
                "fortran_order": False,
                "shape": self.shape,
            }
            np.lib.format.write_array_header_2_0(self._file, header)
        except BaseException:
            self.abort()
            raise

    def write(self, rows):
        """Append ``rows`` (shape ``(k,) + shape[1:]``)."""
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.shape[1:]:
            raise ValueError(
                f"rows of shape {rows.shape[1:]} do not fit a file of shape "
                f"{self.shape}"
            )
        if self.rows_written + rows.shape[0] > self.shape[0]:
            raise ValueError(
                f"writing {rows.shape[0]} rows after {self.rows_written} would "
                f"exceed the {self.shape[0]} rows announced for {self.path!r}"
            )
        self._file.write(rows.data)
        self.rows_written += rows.shape[0]
        if self.evict:
            self._file.flush()
            release_pages(self._file)

    def finish(self):
        """Check the row count and flush the rows to disk (still unnamed)."""
        if self._file is None:
            return
        if self.rows_written != self.shape[0]:
            self.abort()
            raise ValueError(
                f"{self.path!r}: {self.rows_written} rows written of the "
                f"{self.shape[0]} announced; nothing was saved"
            )
        try:
            # A full disk may surface only here, when the buffered rows reach
            # the disk: the file is then incomplete and goes.
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        except BaseException:
            self.abort()
            raise
        self._file = None

    def commit(self):
        """Move the finished file into place (on an error, drop it)."""
        self.finish()
        if os.path.exists(self.tmp_path):
            try:
                os.replace(self.tmp_path, self.path)
            except BaseException:
                self.abort()
                raise

    def close(self):
        """Check the row count, flush to disk and move the file into place."""
        self.commit()

    def abort(self):
        """Drop the temporary file; ``path`` is left as it was.

        Never fails for the file's sake: closing it may raise on a full disk
        (buffered rows that cannot be written), and the rows are dropped
        anyway.
        """
        file, self._file = self._file, None
        try:
            if file is not None:
                file.close()
        except OSError:
            pass
        finally:
            try:
                os.remove(self.tmp_path)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


@contextlib.contextmanager
def npy_writers(*specs, evict=False):
    """Several :class:`NpyWriter` that succeed or fail together.

    Opens one writer per ``(path, shape[, dtype])`` of ``specs`` and yields
    the list. Leaving the block normally checks and flushes every file, and
    only then moves them all into place, so that no output appears before
    all are complete. Any error, including one opening a later writer (an
    unwritable directory, a full disk at its header), removes the temporary
    files of all of them.
    """
    writers = []
    try:
        for spec in specs:
            writers.append(NpyWriter(*spec, evict=evict))
        yield writers
        for writer in writers:
            writer.finish()
        for writer in writers:
            writer.commit()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
