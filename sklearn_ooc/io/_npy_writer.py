"""Writing ``.npy`` files chunk by chunk, atomically.

The writers belong to the data layer (:mod:`sklearn_ooc.data._npy_writer`),
below every layer that writes arrays; the tools import them from here.
"""

from ..data._npy_writer import (  # noqa: F401
    NpyWriter,
    _backup,
    _exists_message,
    _same_file,
    check_outputs,
    commit_together,
    npy_writers,
    release_pages,
)
