"""Writing ``.npy`` files chunk by chunk, atomically.

The data layer owns the writers: its views write themselves to disk
(:meth:`~sklearn_ooc.data.LazyArray.to_npy`), and the tools of
:mod:`sklearn_ooc.io` (which re-exports them) use the same writers.
"""

import contextlib
import os

import numpy as np

from ._scratch import remove_stale, scratch_path


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
    removes the temporary file and leaves ``path`` untouched. The temporary
    file's name carries this process's id, and what killed processes left in
    the folder is removed first.

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
        remove_stale(directory)
        self.tmp_path = scratch_path(directory, name)
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
def npy_writers(*specs, evict=False, overwrite=True):
    """Several :class:`NpyWriter` that succeed or fail together.

    Opens one writer per ``(path, shape[, dtype])`` of ``specs`` and yields
    the list. Leaving the block normally checks and flushes every file, and
    only then moves them all into place (:func:`commit_together`), so that no
    output appears before all are complete and a failure to put one in place
    restores the others. Any error, including one opening a later writer (an
    unwritable directory, a full disk at its header), removes the temporary
    files of all of them.

    With ``overwrite=False``, an output that exists when the files are about
    to be moved into place is an error (:class:`FileExistsError`) and nothing
    is replaced.
    """
    writers = []
    try:
        for spec in specs:
            writers.append(NpyWriter(*spec, evict=evict))
        yield writers
        commit_together(writers, overwrite=overwrite)
    except BaseException:
        for writer in writers:
            writer.abort()
        raise


def commit_together(writers, *, overwrite=True):
    """Move the files of ``writers`` into place, all of them or none.

    Every file is finished (counted and flushed to disk) before the first is
    renamed. An output that exists is kept under a hard link (a rename where
    the file system has no hard links) until the following outputs are in
    place: if one of them cannot be, the outputs already moved are put back
    as they were. The last output needs no copy, as nothing can fail after
    it. A process killed between two renames leaves the first output new and
    the second old; nothing short of a journal avoids that.
    """
    for writer in writers:
        writer.finish()
    if not overwrite:
        for writer in writers:
            if os.path.lexists(writer.path):
                raise FileExistsError(_exists_message(writer.path))
    done, backups = [], {}
    try:
        for k, writer in enumerate(writers):
            if k < len(writers) - 1 and os.path.lexists(writer.path):
                backups[writer.path] = _backup(writer.path)
            os.replace(writer.tmp_path, writer.path)
            done.append(writer.path)
    except BaseException as exc:
        # Outputs moved into place are put back; an output moved aside for
        # its backup (no hard links) whose replacement failed comes back too.
        undo = list(reversed(done)) + [p for p in backups if p not in done]
        for path in undo:
            backup = backups.get(path)
            try:
                if backup is None:
                    os.remove(path)
                elif path in done or not os.path.lexists(path):
                    os.replace(backup, path)
                    del backups[path]
            except OSError:
                # The new file stays; the old one is kept, not removed below.
                backups.pop(path, None)
                kept = (
                    "" if backup is None else f"; its previous content is in {backup!r}"
                )
                exc.add_note(f"{path!r} could not be put back as it was{kept}")
        raise
    finally:
        for backup in backups.values():
            with contextlib.suppress(OSError):
                os.remove(backup)


def _backup(path):
    """A second name for ``path``, in its folder, for :func:`commit_together`."""
    directory, name = os.path.split(os.path.abspath(path))
    backup = scratch_path(directory, f"{name}.previous")
    try:
        os.link(path, backup, follow_symlinks=False)
    except OSError:
        # No hard links here (some network and FUSE file systems): the file
        # moves aside instead, and is missing until its replacement arrives.
        os.replace(path, backup)
    return backup


def _exists_message(path):
    return (
        f"the output {os.fspath(path)!r} exists; pass overwrite=True (--overwrite "
        "on the command line) to replace it, or choose another output prefix"
    )


def _same_file(a, b):
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def check_outputs(outputs, inputs=(), *, overwrite=False):
    """Refuse outputs that would destroy an input or replace a file unasked.

    Called before anything is written. An output that is an input, under its
    own name or through a symbolic or hard link, is refused whatever
    ``overwrite`` says: the tools read their inputs while they write, and a
    pair of outputs replacing a pair of inputs would leave nothing to go back
    to. An output that exists is refused unless ``overwrite``; a missing or
    unusable output folder is reported as such rather than through the name
    of a temporary file.

    Parameters
    ----------
    outputs : list of str or os.PathLike
        Files the tool is about to write.
    inputs : list of str or os.PathLike
        Files it reads.
    overwrite : bool, default=False
        Whether existing outputs may be replaced.
    """
    for output in outputs:
        output = os.fspath(output)
        folder = os.path.dirname(os.path.abspath(output))
        if not os.path.exists(folder):
            raise FileNotFoundError(
                f"the output folder {folder!r} does not exist; create it or "
                "choose another output prefix"
            )
        if not os.path.isdir(folder):
            raise NotADirectoryError(
                f"the output folder {folder!r} is not a folder; choose another "
                "output prefix"
            )
        for source in inputs:
            if os.path.lexists(output) and _same_file(output, source):
                same_name = os.path.abspath(output) == os.path.abspath(source)
                link = "" if same_name else " (the same file by a link)"
                raise ValueError(
                    f"the output {output!r} is the input {os.fspath(source)!r}"
                    f"{link}; choose another output prefix (the input is left "
                    "as it is)"
                )
        if os.path.isdir(output):
            raise IsADirectoryError(
                f"the output {output!r} is a folder; choose another output prefix"
            )
        if os.path.lexists(output) and not overwrite:
            raise FileExistsError(_exists_message(output))
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(
                f"the output folder {folder!r} cannot be written to; choose "
                "another output prefix or change its permissions"
            )


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path next to ``path`` for a file written by another writer.

    Leaving the block normally sends the file to disk and renames it to
    ``path``; any error (or interruption) removes it, and ``path`` is left as
    it was. The name is a :func:`scratch_path`, so what a killed process
    left is removed by the next writer in the folder.
    """
    directory, name = os.path.split(os.path.abspath(os.fspath(path)))
    remove_stale(directory)
    tmp_path = scratch_path(directory, name)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_path)
        raise
