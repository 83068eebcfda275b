"""Measuring the memory a block of code adds."""

import os
import threading


def anonymous_rss():
    """Bytes of resident memory not backed by files.

    Pages of a memory-mapped file are page cache, shared and reclaimable: they
    are not memory a fit adds. On Linux this reads ``RssAnon``; elsewhere it
    falls back to the whole resident set size (psutil).
    """
    try:
        with open(f"/proc/{os.getpid()}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import psutil

    return psutil.Process().memory_info().rss


class PeakMemory:
    """Peak extra anonymous memory while the block runs, sampled on a thread.

    Parameters
    ----------
    interval : float, default=0.002
        Seconds between samples; shorter spikes can be missed.

    Attributes
    ----------
    peak : int
        Largest increase over the memory at entry, in bytes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.utils import PeakMemory
    >>> with PeakMemory() as mem:
    ...     a = np.ones(50_000_000 // 8)
    >>> mem.peak > 40_000_000
    True
    """

    def __init__(self, interval=0.002):
        self.interval = interval
        self.peak = 0

    def _sample(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, anonymous_rss() - self._baseline)

    def __enter__(self):
        self._baseline = anonymous_rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.peak = max(self.peak, anonymous_rss() - self._baseline)
        self._stop.set()
        self._thread.join()
        return False
