"""Names for temporary files and folders that a later run can clean up.

Every temporary file or folder the package makes (a checkpoint or ``.npy``
file being written, a kernel store or a Cholesky factor, shuffle buckets,
SGD's shuffled copy) is named by :func:`scratch_path`: the name carries the
id of the process that made it. A process killed with SIGKILL runs no
``finally`` clause, so its scratch outlives it; :func:`remove_stale`, called
by the next run that uses the same folder, removes what processes that are
no longer alive left there, and never touches a live process's files or any
file not named this way.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

# ".<stem>.ooc-<pid>-<token>.tmp": the stem says what it was for.
_PATTERN = re.compile(r"^\.(?P<stem>.*)\.ooc-(?P<pid>\d+)-(?P<token>[0-9a-f]+)\.tmp$")


def scratch_path(directory, stem):
    """A new path in ``directory`` for scratch of this process.

    Parameters
    ----------
    directory : str or os.PathLike
        Folder of the scratch (``None``: the system's temporary folder).
    stem : str
        What the scratch is for, kept in the name (``"X.npy"``,
        ``"kernel_factor"``).

    Returns
    -------
    path : str
        ``directory/.<stem>.ooc-<pid>-<token>.tmp``, not yet created.

    Examples
    --------
    >>> import os
    >>> path = scratch_path("/tmp", "X.npy")
    >>> os.path.basename(path).startswith(".X.npy.ooc-" + str(os.getpid()))
    True
    """
    directory = tempfile.gettempdir() if directory is None else os.fspath(directory)
    return os.path.join(
        directory, f".{stem}.ooc-{os.getpid()}-{os.urandom(6).hex()}.tmp"
    )


def scratch_dir(directory, stem):
    """Create a scratch folder, named by :func:`scratch_path`, and return it."""
    directory = tempfile.gettempdir() if directory is None else os.fspath(directory)
    remove_stale(directory)
    path = scratch_path(directory, stem)
    os.makedirs(path)
    return path


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return True
    return True


def remove_stale(directory):
    """Remove the scratch that dead processes left in ``directory``.

    Only entries named by :func:`scratch_path` whose process is no longer
    running are removed; errors (a file removed meanwhile, no permission)
    are ignored, since the scratch is not this run's.

    Parameters
    ----------
    directory : str or os.PathLike
        The folder to clean (``None``: the system's temporary folder).

    Returns
    -------
    removed : list of str
        The paths removed.
    """
    directory = tempfile.gettempdir() if directory is None else os.fspath(directory)
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _PATTERN.match(entry.name)
        if match is None or _alive(int(match["pid"])):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.remove(entry.path)
        except OSError:
            continue
        removed.append(entry.path)
    return removed
