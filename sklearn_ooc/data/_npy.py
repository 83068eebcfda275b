"""Opening ``.npy`` files as read-only memory maps, refusing what is not data."""

import json
import math
import mmap
import os
import stat
import sys

import numpy as np

_NOT_REGULAR = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

_VERSIONS = ((1, 0), (2, 0), (3, 0))


def as_path(path):
    """``path`` (str, bytes or os.PathLike) as a str."""
    return os.fsdecode(os.fspath(path))


def _nonblocking(path, flags):
    # A path that turns into a FIFO between the stat and the open must not
    # block the open until a writer appears.
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def _refuse_if_not_regular(st, path, name):
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(
            f"{name} path {path!r} is a directory; expected a .npy file"
        )
    if not stat.S_ISREG(st.st_mode):
        kind = next(
            (what for test, what in _NOT_REGULAR if test(st.st_mode)),
            "not a regular file",
        )
        raise ValueError(
            f"{name} path {path!r} is {kind}, not a regular file; expected a .npy "
            "file (a pipe or a device has no size and reading it may never end)"
        )


def open_regular(path, name="X"):
    """Open ``path`` for binary reading if it is a regular file.

    Never blocks: a FIFO, a device or a socket is refused from its
    :func:`os.stat` before it is opened, and opened without waiting if it
    became one since.

    Parameters
    ----------
    path : str
        The file.
    name : str, default="X"
        What the file holds, for error messages.

    Returns
    -------
    file : io.BufferedReader
        The open file.
    st : os.stat_result
        Its status, from the open descriptor.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    IsADirectoryError
        If ``path`` is a directory.
    ValueError
        If ``path`` is a FIFO, a device, a socket or anything else that is not
        a regular file.
    """
    try:
        _refuse_if_not_regular(os.stat(path), path, name)
    except FileNotFoundError:
        raise FileNotFoundError(f"{name} file {path!r} does not exist") from None
    f = open(path, "rb", opener=_nonblocking)
    try:
        st = os.fstat(f.fileno())
        _refuse_if_not_regular(st, path, name)
    except BaseException:
        f.close()
        raise
    return f, st


def _stamp(st):
    # What a change of the data changes: the file (device, inode), its size
    # and its modification time. Not ctime: chmod changes it, not the data.
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _check_shape(shape, dtype, path, name):
    """The bytes of data an ``.npy`` header announces, refusing shapes no
    array can have."""
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError(
            f"{name} file {path!r} has a damaged .npy header: shape {shape} has a "
            "negative dimension"
        )
    # Python ints: a product of int64s would wrap around to a small number.
    # numpy refuses the non-zero dimensions' product even for an empty array.
    span = math.prod(n for n in shape if n) * max(dtype.itemsize, 1)
    if span > sys.maxsize:
        raise ValueError(
            f"{name} file {path!r} has a damaged .npy header: shape {shape} of "
            f"{dtype} is too large for any array (its dimensions times the item "
            f"size make {span}, above {sys.maxsize})"
        )
    return math.prod(shape) * dtype.itemsize


def map_extent(array):
    """Bytes a file must hold for every page of the memory map ``array``."""
    mapped = getattr(array, "_mmap", None)
    offset = int(getattr(array, "offset", 0) or 0)
    try:
        length = len(mapped)
    except (TypeError, ValueError):  # no map, or a closed one
        return offset + int(array.nbytes)
    # numpy maps from the allocation boundary below the offset.
    return offset - offset % mmap.ALLOCATIONGRANULARITY + length


def mapped_memmap(data):
    """The file-backed :class:`numpy.memmap` whose memory ``data`` uses, or None.

    ``data`` itself, or one of its bases: ``np.asarray(memmap)`` and views of
    a memory map read the same pages.
    """
    while isinstance(data, np.ndarray):
        if (
            isinstance(data, np.memmap)
            and data.filename
            and getattr(data, "_mmap", None) is not None
        ):
            return data
        data = data.base
    return None


class FileGuard:
    """A memory-mapped file, checked before each read for changes.

    Touching a page of a memory map beyond the end of a file that shrank
    kills the process (SIGBUS), and a file rewritten in place changes rows
    that were already validated. Comparing one :func:`os.stat` of the path
    with the one taken when the guard was made turns both into an error
    before the rows are read. A change between the check and the read is
    not caught: the check narrows the window, it cannot close it.

    Parameters
    ----------
    path : str
        The file (absolute, so a change of directory does not matter).
    label : str
        How error messages name the file (as the user gave it).
    name : str
        What the file holds (``"X"``, ``"y"``...).
    extent : int
        Bytes the file must hold: the end of its memory map.

    Raises
    ------
    ValueError
        If the file is already shorter than ``extent``, or not a regular file.
    """

    __slots__ = ("path", "label", "name", "extent", "stamp")

    def __init__(self, path, label, name, extent):
        self.path = path
        self.label = label
        self.name = name
        self.extent = int(extent)
        st = os.stat(path)
        _refuse_if_not_regular(st, label, name)
        if st.st_size < self.extent:
            raise ValueError(
                f"{name} file {label!r} is shorter than its memory map: "
                f"{st.st_size} bytes, the map reads up to byte {self.extent}. It "
                "was truncated after it was opened; open it again"
            )
        self.stamp = _stamp(st)

    @classmethod
    def of(cls, data, name, label=None):
        """The guard of the file under ``data``, or None if it maps no file."""
        memmap = mapped_memmap(data)
        if memmap is None:
            return None
        path = os.fspath(memmap.filename)
        if not os.path.exists(path):
            # Removed after it was mapped (a temporary file): its pages stay
            # valid while mapped, and no path is left to watch.
            return None
        return cls(path, label or path, name, map_extent(memmap))

    def renamed(self, name):
        """The same guard (same recorded state), naming the file ``name``."""
        guard = object.__new__(FileGuard)
        guard.__setstate__(self.__getstate__())
        guard.name = name
        return guard

    def change(self):
        """What changed in the file since the guard was made, or None."""
        try:
            st = os.stat(self.path)
        except OSError as exc:
            return f"it can no longer be read ({exc.strerror or exc})"
        now = _stamp(st)
        if now == self.stamp:
            return None
        if now[:2] != self.stamp[:2]:
            return "it was replaced by another file"
        if now[2] != self.stamp[2]:
            return f"its size went from {self.stamp[2]} to {now[2]} bytes"
        return "it was modified (its modification time changed)"

    def check(self, when, during="during the fit"):
        """Raise a ``ValueError`` if the file changed.

        ``when`` says what was about to be read, for the message.
        """
        change = self.change()
        if change is not None:
            raise ValueError(
                f"{self.name} file {self.label!r} changed {during}, {when}: "
                f"{change}. Rows read before and after a change would mix two "
                "different data sets: write the file completely before fitting, "
                "or fit from a copy"
            )

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state):
        for key, value in state.items():
            setattr(self, key, value)


def open_npy(path, name="X"):
    """Open a ``.npy`` file as a read-only memory map without reading its rows.

    The header is parsed first so that every problem is reported with what was
    expected and what was found: a missing file, a directory, a FIFO or a
    device (refused before it is opened, so nothing blocks), a file that is
    not ``.npy``, a header with a negative or impossibly large shape, a file
    of pickled Python objects (refused, never unpickled) or a file shorter
    than its header announces.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        The ``.npy`` file.
    name : str, default="X"
        What the file holds, for error messages.

    Returns
    -------
    numpy.memmap or numpy.ndarray
        A read-only memory map (an empty in-memory array when the file holds
        no data: an empty file cannot be mapped). Fortran-order files are
        mapped as such: rows read from them are correct but gathered from
        every column's run of bytes.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sklearn_ooc.data import open_npy
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, np.arange(6.0).reshape(3, 2))
    >>> X = open_npy(path)
    >>> X.shape, X.dtype.name, X.flags.writeable
    ((3, 2), 'float64', False)
    """
    path = as_path(path)
    f, st = open_regular(path, name)
    with f:
        try:
            version = np.lib.format.read_magic(f)
        except ValueError:
            raise ValueError(
                f"{name} file {path!r} is not a .npy file: it does not start with "
                "the NumPy magic string (convert it with 'python -m sklearn_ooc "
                "convert' or numpy.save)"
            ) from None
        if version not in _VERSIONS:
            raise ValueError(
                f"{name} file {path!r} has .npy format version "
                f"{version[0]}.{version[1]}; versions 1.0, 2.0 and 3.0 are read"
            )
        try:
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
        except (ValueError, SyntaxError, TypeError) as exc:
            raise ValueError(
                f"{name} file {path!r} has a damaged .npy header: {exc}"
            ) from None
        offset = f.tell()
        if dtype.hasobject:
            raise ValueError(
                f"{name} file {path!r} holds Python objects (dtype {dtype}); only "
                "numeric .npy files are read, and pickled data is never loaded"
            )
        n_bytes = _check_shape(shape, dtype, path, name)
        available = st.st_size - offset
        if available < n_bytes:
            raise ValueError(
                f"{name} file {path!r} is truncated: its header announces shape "
                f"{shape} of {dtype} ({n_bytes} bytes of data) but only "
                f"{available} bytes follow the header"
            )
        order = "F" if fortran_order else "C"
        if n_bytes == 0:
            return np.empty(shape, dtype=dtype, order=order)
        # Mapped through the descriptor that was checked: a file put in the
        # path's place since then is not the one mapped.
        return np.memmap(
            f, dtype=dtype, mode="r", shape=shape, order=order, offset=offset
        )


def columns_path(path):
    """Where the column names of the ``.npy`` file ``path`` are written:
    ``data_X.npy`` -> ``data_X.columns.json``.

    ``python -m sklearn_ooc convert`` writes them there, since a ``.npy``
    file holds no names.

    Examples
    --------
    >>> from sklearn_ooc.data._npy import columns_path
    >>> columns_path("out/data_X.npy")
    'out/data_X.columns.json'
    """
    path = as_path(path)
    stem = path[:-4] if path.lower().endswith(".npy") else path
    return stem + ".columns.json"


def _n_columns(path):
    """The number of columns the ``.npy`` header of ``path`` announces, or None
    when it cannot be read (or the array is not 2-D)."""
    try:
        shape = open_npy(path, name="X").shape
    except (OSError, ValueError):
        return None
    return int(shape[1]) if len(shape) == 2 else None


def read_columns(path, n_columns=None):
    """The column names written beside the ``.npy`` file ``path``, or None.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` file (written by ``python -m sklearn_ooc convert``).
    n_columns : int, default=None
        The number of columns the names must count; by default, that of the
        ``.npy`` header of ``path`` (not checked if it cannot be read).

    Returns
    -------
    list of str or None
        The names of the columns, in order; None when there is no
        :func:`columns_path` file (the input had no header, or ``path`` was
        not written by ``convert``) or when its names do not count the
        columns (it belongs to another file).

    Raises
    ------
    ValueError
        If the file is there but is not ``{"columns": [names...], ...}``
        (not JSON, or names that are not strings), naming the file.

    Examples
    --------
    >>> import json, os, tempfile
    >>> import numpy as np
    >>> from sklearn_ooc.data._npy import columns_path, read_columns
    >>> path = os.path.join(tempfile.mkdtemp(), "data_X.npy")
    >>> np.save(path, np.zeros((3, 2)))
    >>> read_columns(path) is None
    True
    >>> with open(columns_path(path), "w") as f:
    ...     json.dump({"columns": ["a", "b"]}, f)
    >>> read_columns(path)
    ['a', 'b']
    >>> read_columns(path, n_columns=3) is None
    True
    """
    names_path = columns_path(path)
    try:
        with open(names_path, encoding="utf-8") as f:
            text = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"column names file {names_path!r} cannot be read: {exc}; "
            "remove it or write it again with 'python -m sklearn_ooc convert'"
        ) from None
    try:
        content = json.loads(text)
    except ValueError as exc:
        raise ValueError(
            f"column names file {names_path!r} is not valid JSON ({exc}); "
            'expected {"columns": [names...]}: remove it or write it again '
            "with 'python -m sklearn_ooc convert'"
        ) from None
    names = content.get("columns") if isinstance(content, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(
            f"column names file {names_path!r} does not hold a list of names: "
            'expected {"columns": ["a", "b", ...]}; remove it or write it '
            "again with 'python -m sklearn_ooc convert'"
        )
    if n_columns is None:
        n_columns = _n_columns(path)
    if n_columns is not None and len(names) != n_columns:
        return None
    return names
