"""Forward-backward and Viterbi kernels of hidden Markov models.

Each kernel runs over the consecutive sequences of one batch, given by
``offsets`` (``offsets[s]:offsets[s + 1]`` are the rows of sequence ``s``),
and follows hmmlearn 0.3.3's ``_hmmc`` operation for operation: the
log-space recursions with its ``logsumexp``/``logaddexp``, the scaled ones
with a scale per row (``1 / sum``), and the same tie-breaking in Viterbi's
backtrack. They take arrays and scalars only, release the GIL and are cached
on disk, so that batches are summarized in parallel on threads.
"""

import numpy as np
from numba import njit

# hmmlearn's floor on the sum of a scaled forward row: below it the scaled
# recursion has underflowed.
_MIN_SUM = 1e-300


@njit(nogil=True, cache=True)
def _logsumexp(v):
    m = -np.inf
    for x in v:
        if x > m:
            m = x
    if np.isinf(m):
        return m
    acc = 0.0
    for x in v:
        acc += np.exp(x - m)
    return np.log(acc) + m


@njit(nogil=True, cache=True)
def _logaddexp(a, b):
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    return max(a, b) + np.log1p(np.exp(-abs(b - a)))


@njit(nogil=True, cache=True)
def _check_sizes(offsets, n, k, start, trans):
    if offsets.shape[0] < 1 or offsets[0] != 0 or offsets[-1] != n:
        raise ValueError("offsets must run from 0 to the number of rows")
    for s in range(offsets.shape[0] - 1):
        if offsets[s + 1] <= offsets[s]:
            raise ValueError("every sequence must hold at least one row")
    if start.shape[0] != k or trans.shape[0] != k or trans.shape[1] != k:
        raise ValueError("startprob and transmat must match the number of states")


@njit(nogil=True, cache=True)
def _check_counts(k, start, trans):
    if start.shape[0] != k or trans.shape[0] != k or trans.shape[1] != k:
        raise ValueError("start and trans counts must match the number of states")


# -- the recursions, over rows a:b of arrays -------------------------------------
#
# A sequence is one range of rows, or several consecutive segments of a long
# sequence read batch by batch: a segment's forward recursion starts from the
# last forward row of the segment before it (``carry``), its backward
# recursion from the first backward row and emission of the segment after it
# (``next_bwd``, ``next_frame``).


@njit(nogil=True, cache=True)
def _log_forward(log_start, log_trans, log_frame, a, b, carry, first, fwd, buf):
    k = log_frame.shape[1]
    if first:
        for i in range(k):
            fwd[a, i] = log_start[i] + log_frame[a, i]
    else:
        for j in range(k):
            for i in range(k):
                buf[i] = carry[i] + log_trans[i, j]
            fwd[a, j] = _logsumexp(buf) + log_frame[a, j]
    for t in range(a + 1, b):
        for j in range(k):
            for i in range(k):
                buf[i] = fwd[t - 1, i] + log_trans[i, j]
            fwd[t, j] = _logsumexp(buf) + log_frame[t, j]


@njit(nogil=True, cache=True)
def _log_backward(
    log_trans,
    log_frame,
    fwd,
    a,
    b,
    last,
    next_frame,
    next_bwd,
    log_prob,
    posteriors,
    log_xi,
    bwd,
    buf,
):
    """Backward rows, posteriors, and the log expected transitions out of
    every row (into the next segment too) ``logaddexp``-ed into ``log_xi``."""
    k = log_frame.shape[1]
    if last:
        for i in range(k):
            bwd[b - 1, i] = 0.0
    else:
        for i in range(k):
            for j in range(k):
                buf[j] = log_trans[i, j] + next_frame[j] + next_bwd[j]
            bwd[b - 1, i] = _logsumexp(buf)
    for t in range(b - 2, a - 1, -1):
        for i in range(k):
            for j in range(k):
                buf[j] = log_trans[i, j] + log_frame[t + 1, j] + bwd[t + 1, j]
            bwd[t, i] = _logsumexp(buf)
    # Posteriors: each row normalized by its own logsumexp, as hmmlearn's
    # log_normalize (one state: log-posterior 0).
    for t in range(a, b):
        if k == 1:
            posteriors[t, 0] = 1.0
            continue
        for i in range(k):
            buf[i] = fwd[t, i] + bwd[t, i]
        norm = _logsumexp(buf)
        for i in range(k):
            posteriors[t, i] = np.exp(buf[i] - norm)
    for t in range(a, b if not last else b - 1):
        for i in range(k):
            for j in range(k):
                if t + 1 < b:
                    emission, ahead = log_frame[t + 1, j], bwd[t + 1, j]
                else:
                    emission, ahead = next_frame[j], next_bwd[j]
                # hmmlearn's order of the terms.
                value = fwd[t, i] + log_trans[i, j] + emission + ahead - log_prob
                log_xi[i, j] = _logaddexp(log_xi[i, j], value)


@njit(nogil=True, cache=True)
def _scaling_forward(startprob, transmat, frame, a, b, carry, first, fwd, scaling):
    """Scaled forward rows; returns the log-likelihood they add, or NaN if
    a row underflowed."""
    k = frame.shape[1]
    log_prob = 0.0
    for t in range(a, b):
        total = 0.0
        for j in range(k):
            if t == a and first:
                value = startprob[j] * frame[t, j]
            else:
                acc = 0.0
                for i in range(k):
                    acc += (carry[i] if t == a else fwd[t - 1, i]) * transmat[i, j]
                value = acc * frame[t, j]
            fwd[t, j] = value
        for j in range(k):
            total += fwd[t, j]
        if total < _MIN_SUM:
            return np.nan
        scale = 1.0 / total
        scaling[t] = scale
        log_prob -= np.log(scale)
        for j in range(k):
            fwd[t, j] *= scale
    return log_prob


@njit(nogil=True, cache=True)
def _whole_forward(startprob, transmat, frame, a, b, fwd, scaling):
    """:func:`_scaling_forward` of a whole sequence, its loops free of the
    segment cases."""
    k = frame.shape[1]
    log_prob = 0.0
    total = 0.0
    for j in range(k):
        fwd[a, j] = startprob[j] * frame[a, j]
        total += fwd[a, j]
    for t in range(a, b):
        if t > a:
            for j in range(k):
                fwd[t, j] = 0.0
            for i in range(k):
                f = fwd[t - 1, i]
                for j in range(k):
                    fwd[t, j] += f * transmat[i, j]
            total = 0.0
            for j in range(k):
                fwd[t, j] *= frame[t, j]
                total += fwd[t, j]
        if total < _MIN_SUM:
            return np.nan
        scale = 1.0 / total
        scaling[t] = scale
        log_prob -= np.log(scale)
        for j in range(k):
            fwd[t, j] *= scale
    return log_prob


@njit(nogil=True, cache=True)
def _whole_backward(transmat, frame, fwd, scaling, a, b, posteriors, trans, bwd):
    """:func:`_scaling_backward` of a whole sequence, its loops free of the
    segment cases: ``w = emission x backward`` of the next row is formed
    once, and the transition counts as summed outer products times A."""
    k = frame.shape[1]
    ahead = np.empty(k)
    outer = np.zeros((k, k))
    for i in range(k):
        bwd[b - 1, i] = scaling[b - 1]
    for t in range(b - 2, a - 1, -1):
        for j in range(k):
            ahead[j] = frame[t + 1, j] * bwd[t + 1, j]
        scale = scaling[t]
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += transmat[i, j] * ahead[j]
            bwd[t, i] = acc * scale
        for i in range(k):
            f = fwd[t, i]
            for j in range(k):
                outer[i, j] += f * ahead[j]
    for t in range(a, b):
        total = 0.0
        for i in range(k):
            posteriors[t, i] = fwd[t, i] * bwd[t, i]
            total += posteriors[t, i]
        if total == 0.0:
            total = 1.0
        inverse = 1.0 / total
        for i in range(k):
            posteriors[t, i] *= inverse
    for i in range(k):
        for j in range(k):
            trans[i, j] += outer[i, j] * transmat[i, j]


@njit(nogil=True, cache=True)
def _scaling_backward(
    transmat,
    frame,
    fwd,
    scaling,
    a,
    b,
    last,
    next_frame,
    next_bwd,
    posteriors,
    trans,
    bwd,
):
    k = frame.shape[1]
    for i in range(k):
        if last:
            bwd[b - 1, i] = scaling[b - 1]
        else:
            acc = 0.0
            for j in range(k):
                acc += transmat[i, j] * next_frame[j] * next_bwd[j]
            bwd[b - 1, i] = acc * scaling[b - 1]
    for t in range(b - 2, a - 1, -1):
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += transmat[i, j] * frame[t + 1, j] * bwd[t + 1, j]
            bwd[t, i] = acc * scaling[t]
    for t in range(a, b):
        total = 0.0
        for i in range(k):
            posteriors[t, i] = fwd[t, i] * bwd[t, i]
            total += posteriors[t, i]
        if total == 0.0:
            total = 1.0
        for i in range(k):
            posteriors[t, i] /= total
    # sum_t fwd[t, i] A[i, j] w[t + 1, j] with w = emission x backward: the
    # outer products summed first, times A once.
    outer = np.zeros((k, k))
    ahead = np.empty(k)
    for t in range(a, b if not last else b - 1):
        for j in range(k):
            if t + 1 < b:
                ahead[j] = frame[t + 1, j] * bwd[t + 1, j]
            else:
                ahead[j] = next_frame[j] * next_bwd[j]
        for i in range(k):
            f = fwd[t, i]
            for j in range(k):
                outer[i, j] += f * ahead[j]
    for i in range(k):
        for j in range(k):
            trans[i, j] += outer[i, j] * transmat[i, j]


@njit(nogil=True, cache=True)
def _viterbi_forward(log_start, log_trans, log_frame, a, b, carry, first, lattice):
    k = log_frame.shape[1]
    for t in range(a, b):
        for i in range(k):
            if t == a and first:
                lattice[t, i] = log_start[i] + log_frame[t, i]
                continue
            best = -np.inf
            for j in range(k):
                prev = carry[j] if t == a else lattice[t - 1, j]
                best = max(best, prev + log_trans[j, i])
            lattice[t, i] = best + log_frame[t, i]


@njit(nogil=True, cache=True)
def _viterbi_backtrack(log_trans, lattice, a, b, last, next_state, states):
    """The path over rows a:b; returns the path's log-probability when
    ``last`` (NaN otherwise). Of equal scores the backtrack keeps the highest
    state, the last row's choice the lowest, as hmmlearn."""
    k = lattice.shape[1]
    log_prob = np.nan
    if last:
        prev = 0
        for i in range(1, k):
            if lattice[b - 1, i] > lattice[b - 1, prev]:
                prev = i
        states[b - 1] = prev
        log_prob = lattice[b - 1, prev]
        stop = b - 2
    else:
        prev = next_state
        stop = b - 1
    for t in range(stop, a - 1, -1):
        best = -np.inf
        arg = 0
        for i in range(k):
            value = lattice[t, i] + log_trans[i, prev]
            if value >= best:
                best = value
                arg = i
        states[t] = arg
        prev = arg
    return log_prob


@njit(nogil=True, cache=True)
def _check_rows(array, n, k):
    if array.shape[0] != n or array.shape[1] != k:
        raise ValueError("an array of rows does not match the emissions")


@njit(nogil=True, cache=True)
def _check_states(k, vectors):
    for v in vectors:
        if v.shape[0] != k:
            raise ValueError("a vector of states does not match the emissions")


# -- batches of whole sequences ------------------------------------------------


@njit(nogil=True, cache=True)
def hmm_log_pass(
    offsets, startprob, transmat, log_frame, posteriors, start, trans, log_probs
):
    """Forward-backward over the whole sequences of a batch, from emission
    log-likelihoods: safe wherever hmmlearn's log-space recursions are.

    Each row's likelihoods are divided by the largest of them and the scaled
    recursions run on those; a sequence where they still underflow (a row
    whose likely states the transitions forbid) is taken in log space.

    Parameters
    ----------
    offsets : int64 array of shape (n_sequences + 1,)
        Row offsets of the sequences.
    startprob : array of shape (k,)
    transmat : array of shape (k, k)
    log_frame : array of shape (n, k)
        Emission log-likelihoods.
    posteriors : array of shape (n, k)
        Receives the state posteriors of every row.
    start : array of shape (k,)
        The posteriors of the first row of each sequence are added to it.
    trans : array of shape (k, k)
        The expected transition counts of each sequence are added to it.
    log_probs : array of shape (n_sequences,)
        Receives the log-likelihood of each sequence.
    """
    n, k = log_frame.shape
    _check_sizes(offsets, n, k, startprob, transmat)
    _check_rows(posteriors, n, k)
    _check_counts(k, start, trans)
    if log_probs.shape[0] != offsets.shape[0] - 1:
        raise ValueError("log_probs must hold one value a sequence")
    # log(0) = -inf: a forbidden start or transition.
    log_start = np.log(startprob)
    log_trans = np.log(transmat)
    longest = 0
    for s in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[s + 1] - offsets[s])
    # Rows of one sequence at a time: buffers that stay in cache.
    fwd = np.empty((longest, k))
    bwd = np.empty((longest, k))
    frame = np.empty((longest, k))
    scaling = np.empty(longest)
    buf = np.empty(k)
    none = np.zeros(k)
    log_xi = np.empty((k, k))
    # The fast path: each row's likelihoods divided by its largest, then the
    # scaled recursions (k exponentials a row instead of 4 k^2); a sequence
    # whose scaled rows still underflow is taken again in log space.
    for s in range(offsets.shape[0] - 1):
        a, b = offsets[s], offsets[s + 1]
        m_rows = b - a
        rows = log_frame[a:b]
        post = posteriors[a:b]
        shift = 0.0
        for t in range(m_rows):
            m = -np.inf
            for j in range(k):
                if rows[t, j] > m:
                    m = rows[t, j]
            shift += m
            for j in range(k):
                frame[t, j] = np.exp(rows[t, j] - m)
        log_prob = np.nan
        if np.isfinite(shift):
            log_prob = _whole_forward(
                startprob, transmat, frame, 0, m_rows, fwd, scaling
            )
        if not np.isnan(log_prob):
            log_probs[s] = log_prob + shift
            _whole_backward(transmat, frame, fwd, scaling, 0, m_rows, post, trans, bwd)
            for i in range(k):
                start[i] += post[0, i]
            continue
        _log_forward(log_start, log_trans, rows, 0, m_rows, none, True, fwd, buf)
        log_prob = _logsumexp(fwd[m_rows - 1])
        log_probs[s] = log_prob
        log_xi[:] = -np.inf
        _log_backward(
            log_trans,
            rows,
            fwd,
            0,
            m_rows,
            True,
            none,
            none,
            log_prob,
            post,
            log_xi,
            bwd,
            buf,
        )
        for i in range(k):
            start[i] += post[0, i]
        # A sequence of one row has no transitions.
        if m_rows > 1:
            for i in range(k):
                for j in range(k):
                    trans[i, j] += np.exp(log_xi[i, j])


@njit(nogil=True, cache=True)
def hmm_scaling_pass(
    offsets, startprob, transmat, frame, posteriors, start, trans, log_probs
):
    """Scaled forward-backward over the whole sequences of a batch.

    As :func:`hmm_log_pass`, from the emission likelihoods ``frame``.
    Returns -1, or the index of the first sequence whose scaled forward pass
    underflowed (a row of likelihoods summing below 1e-300), whose statistics
    are then incomplete.
    """
    n, k = frame.shape
    _check_sizes(offsets, n, k, startprob, transmat)
    _check_rows(posteriors, n, k)
    _check_counts(k, start, trans)
    if log_probs.shape[0] != offsets.shape[0] - 1:
        raise ValueError("log_probs must hold one value a sequence")
    longest = 0
    for s in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[s + 1] - offsets[s])
    # Rows of one sequence at a time: buffers that stay in cache.
    fwd = np.zeros((longest, k))
    bwd = np.zeros((longest, k))
    scaling = np.empty(longest)
    for s in range(offsets.shape[0] - 1):
        a, b = offsets[s], offsets[s + 1]
        rows = frame[a:b]
        post = posteriors[a:b]
        log_prob = _whole_forward(startprob, transmat, rows, 0, b - a, fwd, scaling)
        if np.isnan(log_prob):
            return s
        log_probs[s] = log_prob
        _whole_backward(transmat, rows, fwd, scaling, 0, b - a, post, trans, bwd)
        for i in range(k):
            start[i] += post[0, i]
    return -1


@njit(nogil=True, cache=True)
def hmm_viterbi(offsets, startprob, transmat, log_frame, states, log_probs):
    """Most likely state path of each whole sequence of a batch (Viterbi).

    ``states`` (int64, one per row) receives the paths and ``log_probs`` the
    log-probability of each path.
    """
    n, k = log_frame.shape
    _check_sizes(offsets, n, k, startprob, transmat)
    if states.shape[0] != n:
        raise ValueError("states must hold one value a row")
    if log_probs.shape[0] != offsets.shape[0] - 1:
        raise ValueError("log_probs must hold one value a sequence")
    log_start = np.log(startprob)
    log_trans = np.log(transmat)
    lattice = np.empty((n, k))
    none = np.zeros(k)
    for s in range(offsets.shape[0] - 1):
        a, b = offsets[s], offsets[s + 1]
        _viterbi_forward(log_start, log_trans, log_frame, a, b, none, True, lattice)
        log_probs[s] = _viterbi_backtrack(log_trans, lattice, a, b, True, 0, states)


# -- segments of a sequence longer than a batch ----------------------------------


@njit(nogil=True, cache=True)
def hmm_segment_forward(
    startprob, transmat, frames, carry, first, log_space, fwd, scaling
):
    """Forward rows of one segment of a long sequence.

    ``frames`` are the emission log-likelihoods (``log_space``) or
    likelihoods (scaled); ``carry`` the last forward row of the previous
    segment (ignored for the ``first``). ``scaling`` receives the scale of
    every row (scaled only). Returns the log-likelihood the segment adds
    (scaled; NaN if a row underflowed), or the logsumexp of its last
    forward row (log space: the sequence's log-likelihood once the segment
    is the last).
    """
    n, k = frames.shape
    _check_rows(fwd, n, k)
    _check_states(k, (startprob, carry))
    if transmat.shape[0] != k or transmat.shape[1] != k or scaling.shape[0] != n:
        raise ValueError("transmat or scaling does not match the emissions")
    if n == 0:
        raise ValueError("a segment holds at least one row")
    if log_space:
        buf = np.empty(k)
        _log_forward(
            np.log(startprob), np.log(transmat), frames, 0, n, carry, first, fwd, buf
        )
        return _logsumexp(fwd[n - 1])
    return _scaling_forward(
        startprob, transmat, frames, 0, n, carry, first, fwd, scaling
    )


@njit(nogil=True, cache=True)
def hmm_segment_backward(
    transmat,
    frames,
    fwd,
    scaling,
    last,
    next_frame,
    next_bwd,
    log_space,
    log_prob,
    posteriors,
    trans,
    bwd,
):
    """Backward rows, posteriors and expected transitions of one segment.

    From the segment's forward rows (:func:`hmm_segment_forward`) and, unless
    it is the ``last``, the first emission and backward rows of the segment
    after it. Log space: the log expected transitions are ``logaddexp``-ed
    into ``trans`` (start it at -inf, and exponentiate it after the first
    segment), given the sequence's ``log_prob``; scaled: they are added.
    """
    n, k = frames.shape
    _check_rows(fwd, n, k)
    _check_rows(bwd, n, k)
    _check_rows(posteriors, n, k)
    _check_states(k, (next_frame, next_bwd))
    if transmat.shape[0] != k or transmat.shape[1] != k or scaling.shape[0] != n:
        raise ValueError("transmat or scaling does not match the emissions")
    if trans.shape[0] != k or trans.shape[1] != k:
        raise ValueError("trans does not match the emissions")
    if n == 0:
        raise ValueError("a segment holds at least one row")
    if log_space:
        buf = np.empty(k)
        _log_backward(
            np.log(transmat),
            frames,
            fwd,
            0,
            n,
            last,
            next_frame,
            next_bwd,
            log_prob,
            posteriors,
            trans,
            bwd,
            buf,
        )
    else:
        _scaling_backward(
            transmat,
            frames,
            fwd,
            scaling,
            0,
            n,
            last,
            next_frame,
            next_bwd,
            posteriors,
            trans,
            bwd,
        )


@njit(nogil=True, cache=True)
def hmm_segment_viterbi_forward(startprob, transmat, log_frame, carry, first, lattice):
    """Viterbi scores of the rows of one segment, from the last row's scores
    of the previous segment (``carry``, ignored for the ``first``)."""
    n, k = log_frame.shape
    _check_rows(lattice, n, k)
    _check_states(k, (startprob, carry))
    if transmat.shape[0] != k or transmat.shape[1] != k:
        raise ValueError("transmat does not match the emissions")
    _viterbi_forward(
        np.log(startprob), np.log(transmat), log_frame, 0, n, carry, first, lattice
    )


@njit(nogil=True, cache=True)
def hmm_segment_viterbi_backtrack(transmat, lattice, last, next_state, states):
    """The path over one segment, back from the state of the next segment's
    first row (``next_state``), or from the best last state if ``last``;
    returns the path's log-probability when ``last``, NaN otherwise."""
    n, k = lattice.shape
    if states.shape[0] != n or transmat.shape[0] != k or transmat.shape[1] != k:
        raise ValueError("states or transmat does not match the lattice")
    if n == 0 or not 0 <= next_state < k:
        raise ValueError("a segment holds at least one row and a valid next state")
    return _viterbi_backtrack(np.log(transmat), lattice, 0, n, last, next_state, states)


@njit(nogil=True, cache=True)
def sequence_batches(lengths, batch_size):
    """Batches of whole sequences, and segments of the longer ones.

    Consecutive sequences are grouped into batches of at most
    ``batch_size`` rows; a sequence longer than that is cut into segments of
    ``batch_size`` rows (the last one shorter), a batch each.

    Returns
    -------
    starts : int64 array of shape (n_batches + 1,)
        First row of every batch, then the number of rows.
    firsts : int64 array of shape (n_batches + 1,)
        First sequence of every batch (the sequence a segment is of), then
        the number of sequences.
    split : bool array of shape (n_batches,)
        Whether the batch is a segment of a longer sequence.
    """
    n_seq = lengths.shape[0]
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    bound = n_seq + 1
    for s in range(n_seq):
        if lengths[s] < 1:
            raise ValueError("every sequence must hold at least one row")
        bound += (lengths[s] - 1) // batch_size
    starts = np.empty(bound, dtype=np.int64)
    firsts = np.empty(bound, dtype=np.int64)
    split = np.zeros(bound, dtype=np.bool_)
    n_batches = 0
    row = 0
    rows = 0
    grouping = False
    for s in range(n_seq):
        length = lengths[s]
        if length > batch_size:
            grouping = False
            for offset in range(0, length, batch_size):
                starts[n_batches] = row + offset
                firsts[n_batches] = s
                split[n_batches] = True
                n_batches += 1
        else:
            if not grouping or rows + length > batch_size:
                starts[n_batches] = row
                firsts[n_batches] = s
                n_batches += 1
                rows = 0
                grouping = True
            rows += length
        row += length
    starts[n_batches] = row
    firsts[n_batches] = n_seq
    return (
        starts[: n_batches + 1].copy(),
        firsts[: n_batches + 1].copy(),
        split[:n_batches].copy(),
    )


@njit(nogil=True, cache=True)
def hmm_diag_sums(X, posteriors, shifts, weight, sums, squares):
    """Posterior-weighted sums of every state about its shift.

    ``weight[k] += sum_i p_ik``, ``sums[k] += sum_i p_ik (x_i - shifts[k])``
    and ``squares[k] += sum_i p_ik (x_i - shifts[k])**2``: the diagonal
    moments of the states, taken about shifts near their means so that no
    digits are lost to data far from the origin.
    """
    n, d = X.shape
    k = posteriors.shape[1]
    if posteriors.shape[0] != n or weight.shape[0] != k:
        raise ValueError("posteriors and weight must match X and the states")
    for a in (shifts, sums, squares):
        if a.shape[0] != k or a.shape[1] != d:
            raise ValueError("shifts, sums and squares must be (n_states, d)")
    for i in range(n):
        for c in range(k):
            p = posteriors[i, c]
            weight[c] += p
            for j in range(d):
                v = X[i, j] - shifts[c, j]
                pv = p * v
                sums[c, j] += pv
                squares[c, j] += pv * v
