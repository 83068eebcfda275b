"""Which batches each epoch reads."""

from numbers import Integral

from ._source import check_batches_per_epoch


class EpochPlan:
    """The batches of successive epochs, with a cursor that never restarts.

    With ``batches_per_epoch=None`` every epoch is the whole source, in order.
    With an int ``k``, an epoch is the next ``k`` batches after the previous
    epoch's last one, wrapping from the end of the source to its start: over
    successive epochs every batch is read equally often, and the first rows
    are not favoured. An epoch never holds a batch twice (``k`` is capped at
    the number of batches).

    Parameters
    ----------
    n_batches : int
        Batches in the source.
    batches_per_epoch : int or None, default=None
        Batches per epoch.
    cursor : int, default=0
        The batch the next epoch starts at.

    Examples
    --------
    >>> from sklearn_ooc.data import EpochPlan
    >>> plan = EpochPlan(5, batches_per_epoch=2)
    >>> [plan.next_epoch() for _ in range(3)]
    [[0, 1], [2, 3], [4, 0]]
    >>> plan.cursor
    1
    """

    def __init__(self, n_batches, batches_per_epoch=None, cursor=0):
        # A float or a string here (a damaged checkpoint's cursor) would be
        # rounded or parsed into another plan than the one saved.
        if not isinstance(n_batches, Integral) or isinstance(n_batches, bool):
            raise ValueError(f"n_batches must be a positive int, got {n_batches!r}")
        if n_batches < 1:
            raise ValueError(
                f"n_batches must be a positive int, got {n_batches!r}: an epoch "
                "plan needs at least one batch"
            )
        if not isinstance(cursor, Integral) or isinstance(cursor, bool):
            raise ValueError(f"cursor must be an int, got {cursor!r}")
        self.n_batches = int(n_batches)
        self.batches_per_epoch = check_batches_per_epoch(batches_per_epoch)
        self.cursor = int(cursor) % self.n_batches

    @property
    def epoch_length(self):
        """Batches read per epoch."""
        if self.batches_per_epoch is None:
            return self.n_batches
        return min(self.batches_per_epoch, self.n_batches)

    def next_epoch(self):
        """Indices of the batches of the next epoch, advancing the cursor."""
        if self.batches_per_epoch is None:
            return list(range(self.n_batches))
        indices = [(self.cursor + j) % self.n_batches for j in range(self.epoch_length)]
        self.cursor = (self.cursor + self.epoch_length) % self.n_batches
        return indices
