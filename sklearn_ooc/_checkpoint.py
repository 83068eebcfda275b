"""Checkpoints: the state of an iterative fit, written after every iteration.

A checkpoint resumes only the fit that wrote it. Three things tell that fit:

- its parameters, hashed by value (:func:`params_fingerprint`);
- cheap facts about its data: shapes, dtypes, and the size and modification
  time of the files (:func:`data_identity`), checked when the checkpoint is
  opened;
- a digest of every batch of its data, taken as the fit's own passes read
  the batches (the engine hands the digests over, see
  :func:`~sklearn_ooc._engine.digest_batches`), so fingerprinting the whole
  data costs no pass of its own.

A fit that resumes compares each batch its passes read with the digest the
checkpoint recorded, and refuses at the first that differs. Before it saves
or returns, it reads and compares the batches none of its passes read (none,
unless the checkpoint holds a finished fit or iterations read some batches
only), so no state of a checkpoint outlives a fit on other data.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import numbers
import os
import pickle
import threading
import types

import numpy as np

from ._engine import batch_digest, digest_batches
from .data import LazyArray, remove_stale, scratch_path

_VERSION = 2
_KEYS = ("version", "owner", "fingerprint", "data", "state")
_START_AFRESH = "remove it, or point checkpoint to another file, to start afresh"


def data_identity(source):
    """A hash of what is known of the data without reading it.

    The shapes and dtypes of ``X``, ``y`` and ``sample_weight``, and the
    path, size and modification time of the files they are read from: a
    fit on data that differs in any of these is refused before it reads a
    row. The values themselves are checked batch by batch (see the module).

    Parameters
    ----------
    source : BatchSource
        The data of the fit.

    Returns
    -------
    str
        A hexadecimal digest.
    """
    facts = [source.n_samples, source.n_features]
    for data in (source.X, source.y, source.sample_weight):
        if data is None or np.isscalar(data):
            facts.append(repr(data))
            continue
        shape = getattr(data, "shape", None)
        facts.append((str(getattr(data, "dtype", "")), shape and tuple(shape)))
        path = data.path if isinstance(data, LazyArray) else None
        path = path or getattr(data, "filename", None)
        if path:
            stat = os.stat(path)
            facts.append((os.fspath(path), stat.st_size, stat.st_mtime_ns))
    return hashlib.sha256(repr(facts).encode()).hexdigest()


def params_fingerprint(params):
    """A hash of the parameters that decide the result, by value.

    Arrays count by dtype, shape and bytes; random generators by their
    whole state; estimators by their parameters; functions by their
    qualified name; other objects by their attributes. Nothing depends on
    where an object lives in memory, so equal parameters built in another
    process hash the same.

    Parameters
    ----------
    params : dict
        Parameter name to value.

    Returns
    -------
    str
        A hexadecimal digest.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.zeros(2000), np.zeros(2000)
    >>> b[1000] = 1.0
    >>> params_fingerprint({"init": a}) == params_fingerprint({"init": b})
    False
    >>> seeds = [np.random.RandomState(0), np.random.RandomState(0)]
    >>> params_fingerprint({"rs": seeds[0]}) == params_fingerprint({"rs": seeds[1]})
    True
    """
    return _value_digest(params, ()).hex()


def _node(tag, *children, raw=None):
    digest = hashlib.blake2b(digest_size=32)
    digest.update(tag.encode() + b"\0")
    for child in children:
        digest.update(child)
    if raw is not None:
        digest.update(raw)
    return digest.digest()


def _qualified_name(obj):
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', obj)}"


def _value_digest(value, stack):
    """The digest of ``value``; ``stack`` holds the ids of the objects being
    hashed, so that a cycle ends."""
    if value is None or isinstance(value, (bool, str, bytes)):
        return _node(type(value).__name__, raw=repr(value).encode())
    if isinstance(value, numbers.Integral) and not isinstance(value, np.generic):
        return _node("int", raw=str(int(value)).encode())
    if isinstance(value, (float, complex)) and not isinstance(value, np.generic):
        return _node(type(value).__name__, raw=repr(value).encode())
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.ascontiguousarray(value)
        tag = f"ndarray {array.dtype.str} {array.shape}"
        if array.dtype.hasobject:
            return _node(tag, *(_value_digest(v, stack) for v in array.ravel()))
        return _node(tag, raw=array.reshape(-1).view(np.uint8))
    if isinstance(value, np.random.RandomState):
        return _node("RandomState", _value_digest(value.get_state(), stack))
    if isinstance(value, np.random.Generator):
        value = value.bit_generator
    if isinstance(value, np.random.BitGenerator):
        return _node(_qualified_name(type(value)), _value_digest(value.state, stack))
    if id(value) in stack:
        return _node("cycle")
    stack = stack + (id(value),)
    if isinstance(value, (list, tuple)):
        return _node(type(value).__name__, *(_value_digest(v, stack) for v in value))
    if isinstance(value, dict):
        items = sorted(
            _value_digest(k, stack) + _value_digest(v, stack) for k, v in value.items()
        )
        return _node("dict", *items)
    if isinstance(value, (set, frozenset)):
        return _node("set", *sorted(_value_digest(v, stack) for v in value))
    if isinstance(value, os.PathLike):
        return _node("path", raw=os.fsencode(value))
    if isinstance(value, np.dtype):
        return _node("dtype", raw=value.str.encode())
    if isinstance(value, type):
        return _node("type", raw=_qualified_name(value).encode())
    if hasattr(value, "get_params") and hasattr(value, "set_params"):
        return _node(
            _qualified_name(type(value)),
            _value_digest(value.get_params(deep=False), stack),
        )
    if dataclasses.is_dataclass(value):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _node(_qualified_name(type(value)), _value_digest(fields, stack))
    if isinstance(value, functools.partial):
        parts = (value.func, value.args, value.keywords)
        return _node("partial", _value_digest(parts, stack))
    if isinstance(
        value,
        (
            types.FunctionType,
            types.BuiltinFunctionType,
            types.MethodType,
            np.ufunc,
        ),
    ):
        return _node("function", raw=_qualified_name(value).encode())
    if hasattr(value, "__dict__"):
        return _node(_qualified_name(type(value)), _value_digest(vars(value), stack))
    # Objects without attributes to read (C types): their pickle, which
    # holds their values, not their addresses.
    return _node(_qualified_name(type(value)), raw=pickle.dumps(value, protocol=4))


class _State(dict):
    """A saved state whose missing entries say which checkpoint lacks them."""

    def __init__(self, values, path):
        super().__init__(values)
        self.path = path

    def __missing__(self, key):
        raise ValueError(
            f"checkpoint {self.path!r} cannot be read (its state lacks {key!r}); "
            + _START_AFRESH
        )


class Checkpoint:
    """The checkpoint file of one fit, written atomically.

    Each save goes to a temporary file next to ``path`` (named by
    :func:`~sklearn_ooc.data.scratch_path`), is flushed and synced to disk,
    then renamed over ``path``: a fit killed at any moment leaves the
    previous checkpoint whole. Opening a checkpoint removes the temporary
    files that killed fits left in its folder.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    fingerprint : str
        The parameters and cheap facts of the data of the fit.
    owner : str
        Class name of the estimator.
    source : BatchSource
        The data whose batches are digested (see :meth:`watch`).
    max_iter : int, default=None
        Iterations of the fit: a checkpoint whose state has done more
        (``state["n_iter"]``) is refused.
    verify_on_load : bool, default=False
        Compare every batch when a checkpoint is loaded, by reading them:
        for a caller that cannot :meth:`close` the checkpoint at the end of
        its fit.
    """

    def __init__(
        self, path, fingerprint, owner, source, *, max_iter=None, verify_on_load=False
    ):
        self.path = os.fspath(path)
        self.fingerprint = fingerprint
        self.owner = owner
        self.max_iter = max_iter
        self.verify_on_load = verify_on_load
        self._lock = threading.Lock()
        self._source = None
        self._digests = {}
        # The digests the checkpoint holds once loaded: what a resumed fit's
        # batches must equal.
        self._recorded = None
        remove_stale(os.path.dirname(os.path.abspath(self.path)))
        self.watch(source)

    # -- the data ---------------------------------------------------------------

    def watch(self, source):
        """Digest the batches of ``source``, as the passes over it read them.

        A fit that reads another source than the one the checkpoint was
        made with (a shuffled copy of the data) watches that one instead.
        """
        if self._source is not None:
            digest_batches(self._source, None)
        with self._lock:
            self._source = source
            self._digests = {}
        digest_batches(source, self)

    def missing(self, indices):
        """The batches among ``indices`` that have no digest yet."""
        with self._lock:
            return [i for i in indices if i not in self._digests]

    def receive(self, index, digest):
        """Keep the digest of batch ``index``; a resumed fit compares it.

        Raises
        ------
        ValueError
            If the checkpoint recorded another digest for that batch.
        """
        recorded = self._recorded
        if recorded is not None and (
            len(recorded) != self._source.n_batches or recorded[index] != digest
        ):
            start, stop = self._source.bounds(index)
            raise ValueError(
                f"checkpoint {self.path!r} was written by a fit on other data: "
                f"rows {start}-{stop - 1} (batch {index}) differ from those it "
                f"was written with; {_START_AFRESH}"
            )
        with self._lock:
            self._digests[index] = digest

    def _read_unseen(self):
        """Digest (and compare) the batches that no pass has read yet."""
        for index in self.missing(range(self._source.n_batches)):
            self.receive(index, batch_digest(self._source.read(index)))

    def close(self, *, verify=True):
        """End the fit: stop digesting and, with ``verify``, finish the checks.

        A resumed fit that has not read every batch reads the others here:
        a checkpoint of a finished fit would otherwise return its model
        without any look at the data.

        Raises
        ------
        ValueError
            If a batch differs from the one the checkpoint was written with.
        """
        try:
            if verify and self._recorded is not None:
                self._read_unseen()
        finally:
            digest_batches(self._source, None)

    # -- the file ---------------------------------------------------------------

    def load(self):
        """The saved state, or None if there is no checkpoint yet.

        The file is only read: whatever it holds, it is left as it is.

        Returns
        -------
        state : dict or None
            The state saved last; a missing entry raises a ValueError that
            names the file.

        Raises
        ------
        ValueError
            If the file cannot be read or is not a checkpoint of this
            version, or if the checkpoint belongs to other data, other
            parameters, another estimator or a fit past ``max_iter``.
        """
        if not os.path.exists(self.path):
            return None
        try:
            with open(self.path, "rb") as f:
                saved = pickle.load(f)
        except Exception as exc:
            # A damaged or foreign pickle raises whatever its bytes lead to
            # (EOFError, UnpicklingError, ModuleNotFoundError, ...).
            raise ValueError(
                f"checkpoint {self.path!r} cannot be read ({type(exc).__name__}: "
                f"{exc}); {_START_AFRESH}"
            ) from None
        if not isinstance(saved, dict):
            raise ValueError(
                f"checkpoint {self.path!r} cannot be read (it holds a "
                f"{_qualified_name(type(saved))}, not a checkpoint); {_START_AFRESH}"
            )
        if "version" in saved and saved["version"] != _VERSION:
            raise ValueError(
                f"checkpoint {self.path!r} cannot be read (it was written by "
                f"another version of sklearn_ooc); {_START_AFRESH}"
            )
        lacking = [key for key in _KEYS if key not in saved]
        if lacking:
            what = f"it lacks {', '.join(lacking)}"
        elif not isinstance(saved["state"], dict):
            what = "its state is not a dict"
        elif not isinstance(saved["data"], list) or not all(
            isinstance(d, bytes) for d in saved["data"]
        ):
            what = "its digests of the data are not a list of bytes"
        else:
            what = None
        if what is not None:
            raise ValueError(
                f"checkpoint {self.path!r} cannot be read ({what}); {_START_AFRESH}"
            )
        if saved["owner"] != self.owner or saved["fingerprint"] != self.fingerprint:
            raise ValueError(
                f"checkpoint {self.path!r} was written by a fit of "
                f"{saved['owner']} on other data or with other parameters; "
                + _START_AFRESH
            )
        state = _State(saved["state"], self.path)
        done = state.get("n_iter")
        if self.max_iter is not None and done is not None and done > self.max_iter:
            raise ValueError(
                f"checkpoint {self.path!r} holds a fit already at iteration {done}, "
                f"past max_iter={self.max_iter}: it cannot give the fit with "
                f"max_iter={self.max_iter}; raise max_iter to at least {done}, or "
                + _START_AFRESH
            )
        self._recorded = list(saved["data"])
        if self.verify_on_load:
            self._read_unseen()
        return state

    def strict(self, values):
        """``values`` (a dict of a loaded state) whose missing entries raise
        a ValueError that names this checkpoint."""
        if not isinstance(values, dict):
            raise ValueError(
                f"checkpoint {self.path!r} cannot be read (an entry of its state "
                f"is a {_qualified_name(type(values))}); {_START_AFRESH}"
            )
        return _State(values, self.path)

    def refusal(self, why, remedy):
        """The error of a checkpoint that cannot resume this fit."""
        return ValueError(
            f"checkpoint {self.path!r} {why}; {remedy}, or {_START_AFRESH}"
        )

    def save(self, state):
        """Write ``state`` atomically.

        The data is digested whole first: batches no pass has read yet are
        read here (a resumed fit compares them), so that a checkpoint always
        records all of the data it was written from.
        """
        self._read_unseen()
        with self._lock:
            data = [self._digests[i] for i in range(self._source.n_batches)]
        payload = {
            "version": _VERSION,
            "owner": self.owner,
            "fingerprint": self.fingerprint,
            "data": data,
            "state": state,
        }
        directory, name = os.path.split(os.path.abspath(self.path))
        tmp = scratch_path(directory, name)
        try:
            with open(tmp, "xb") as f:
                pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
