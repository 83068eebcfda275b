"""Opening ``.npy`` files as read-only memory maps, refusing what is not data."""

import os

import numpy as np


def open_npy(path, name="X"):
    """Open a ``.npy`` file as a read-only memory map without reading its rows.

    The header is parsed first so that every problem is reported with what was
    expected and what was found: a missing file, a directory, a file that is
    not ``.npy``, a file of pickled Python objects (refused, never unpickled)
    or a file shorter than its header announces.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npy`` file.
    name : str, default="X"
        What the file holds, for error messages.

    Returns
    -------
    numpy.memmap or numpy.ndarray
        A read-only memory map (an empty in-memory array when the file holds
        no data: an empty file cannot be mapped).

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
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"{name} path {path!r} is a directory; expected a .npy file"
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name} file {path!r} does not exist")
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
        except ValueError:
            raise ValueError(
                f"{name} file {path!r} is not a .npy file: it does not start with "
                "the NumPy magic string (convert it with 'python -m sklearn_ooc "
                "convert' or numpy.save)"
            ) from None
        try:
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
        except (ValueError, SyntaxError) as exc:
            raise ValueError(
                f"{name} file {path!r} has a damaged .npy header: {exc}"
            ) from None
        offset = f.tell()
    if dtype.hasobject:
        raise ValueError(
            f"{name} file {path!r} holds Python objects (dtype {dtype}); only "
            "numeric .npy files are read, and pickled data is never loaded"
        )
    n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    available = os.path.getsize(path) - offset
    if available < n_bytes:
        raise ValueError(
            f"{name} file {path!r} is truncated: its header announces shape "
            f"{shape} of {dtype} ({n_bytes} bytes of data) but only {available} "
            "bytes follow the header"
        )
    if n_bytes == 0:
        return np.empty(shape, dtype=dtype, order="F" if fortran_order else "C")
    return np.memmap(
        path,
        dtype=dtype,
        mode="r",
        shape=shape,
        order="F" if fortran_order else "C",
        offset=offset,
    )
