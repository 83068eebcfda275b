"""Checkpoints: the state of an iterative fit, written after every iteration."""

from __future__ import annotations

import hashlib
import json
import os
import pickle

import numpy as np

from .data import LazyArray

_VERSION = 1
# Rows of the data that go into its fingerprint, spread over the whole source.
_SAMPLED_ROWS = 64


def data_fingerprint(source):
    """A hash of the data: shape, dtype, file identity and sampled rows.

    Reading every row would cost a pass; the rows sampled evenly across the
    source, with the file's size and modification time, tell a changed or a
    different data set apart.
    """
    digest = hashlib.sha256()
    digest.update(
        repr((source.n_samples, source.n_features, str(source.X.dtype))).encode()
    )
    for data in (source.X, source.y, source.sample_weight):
        path = getattr(data, "filename", None)
        if isinstance(data, LazyArray):
            path = data.path
        if path:
            stat = os.stat(path)
            digest.update(
                repr((os.fspath(path), stat.st_size, stat.st_mtime_ns)).encode()
            )
    rows = np.unique(np.linspace(0, source.n_samples - 1, _SAMPLED_ROWS).astype(int))
    digest.update(np.ascontiguousarray(source.take(rows)).tobytes())
    if source.y is not None:
        digest.update(np.asarray(source.y[rows]).tobytes())
    if source.sample_weight is not None:
        digest.update(np.ascontiguousarray(source.weights_of(rows)).tobytes())
    return digest.hexdigest()


def params_fingerprint(params):
    """A hash of the parameters that decide the result."""
    return hashlib.sha256(
        json.dumps(params, sort_keys=True, default=repr).encode()
    ).hexdigest()


class Checkpoint:
    """A checkpoint file of one fit, written atomically.

    Each save goes to a temporary file next to ``path``, is flushed and
    synced to disk, then renamed over ``path``: a fit killed at any moment
    leaves the previous checkpoint whole.
    """

    def __init__(self, path, fingerprint, owner):
        self.path = os.fspath(path)
        self.fingerprint = fingerprint
        self.owner = owner

    def load(self):
        """The saved state, or None if there is no checkpoint yet.

        Raises
        ------
        ValueError
            If the checkpoint belongs to other data, other parameters or
            another estimator.
        """
        if not os.path.exists(self.path):
            return None
        try:
            with open(self.path, "rb") as f:
                saved = pickle.load(f)
        except (pickle.UnpicklingError, EOFError, AttributeError) as exc:
            raise ValueError(
                f"checkpoint {self.path!r} cannot be read ({exc}); remove it to "
                "start afresh"
            ) from None
        if not isinstance(saved, dict) or saved.get("version") != _VERSION:
            raise ValueError(f"{self.path!r} is not a checkpoint of this version")
        if saved.get("owner") != self.owner or saved["fingerprint"] != self.fingerprint:
            raise ValueError(
                f"checkpoint {self.path!r} was written by a fit of "
                f"{saved.get('owner')} on other data or with other parameters; "
                "remove it, or point checkpoint to another file, to start afresh"
            )
        return saved["state"]

    def save(self, state):
        """Write ``state`` atomically."""
        directory = os.path.dirname(os.path.abspath(self.path))
        tmp = os.path.join(
            directory, f".{os.path.basename(self.path)}.{os.getpid()}.tmp"
        )
        payload = {
            "version": _VERSION,
            "owner": self.owner,
            "fingerprint": self.fingerprint,
            "state": state,
        }
        try:
            with open(tmp, "wb") as f:
                pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
