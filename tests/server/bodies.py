"""Deterministic test bodies shared by the scripted server and the tests.

body(n, seed) is the first n bytes of the endless repetition of block(seed),
a 1 MiB block of pseudo-random bytes from random.Random(seed). Anyone can
rebuild any body from (n, seed) alone, so a test never has to keep the
expected bytes around: it compares lengths and SHA-256 digests.

Hashing 200 MiB one byte at a time would be far too slow, and even hashing
it block by block costs a tenth of a second, so body_sha256 keeps, per seed,
the SHA-256 state after each whole number of blocks it has already hashed.
The digest of any length then costs at most one partial block on top of
the longest prefix seen so far. Results are also cached per (n, seed).

Python 3 standard library only. Safe to use from several threads.
"""

import hashlib
import random
import threading

BLOCK_SIZE = 1 << 20
DEFAULT_SEED = 1

_lock = threading.RLock()
_blocks = {}  # seed -> bytes of BLOCK_SIZE
_states = {}  # seed -> [sha256 state after 0, 1, 2 ... whole blocks]
_seed_locks = {}  # seed -> lock guarding _states[seed]
_digests = {}  # (n, seed) -> hex digest
_DIGEST_CACHE_MAX = 4096


def block(seed=DEFAULT_SEED):
    """The 1 MiB block that body(n, seed) repeats (bytes, cached)."""
    with _lock:
        data = _blocks.get(seed)
        if data is None:
            data = random.Random(seed).randbytes(BLOCK_SIZE)
            _blocks[seed] = data
        return data


def body_range_views(start, length, seed=DEFAULT_SEED, piece=BLOCK_SIZE):
    """Yields memoryviews over the cached block that together are the bytes
    [start, start + length) of the endless body of `seed`.

    No piece is longer than `piece` bytes and none crosses a block
    boundary, so nothing is copied. The server sends these directly.
    """
    if start < 0 or length < 0:
        raise ValueError("negative body offset or length")
    if piece <= 0:
        raise ValueError("piece must be positive")
    view = memoryview(block(seed))
    offset = start % BLOCK_SIZE  # position inside the current block
    left = length
    while left > 0:
        size = min(piece, BLOCK_SIZE - offset, left)
        yield view[offset:offset + size]
        offset += size
        if offset == BLOCK_SIZE:
            offset = 0
        left -= size


def body_views(n, seed=DEFAULT_SEED, piece=BLOCK_SIZE):
    """Yields memoryviews that together are body(n, seed) (see above)."""
    return body_range_views(0, n, seed, piece)


def body_chunks(n, seed=DEFAULT_SEED, piece=BLOCK_SIZE):
    """Yields bytes objects that together are body(n, seed).

    With the default piece size every whole block is the cached block
    object itself, so iterating over 200 MiB allocates almost nothing.
    """
    data = block(seed)
    for view in body_views(n, seed, piece):
        if len(view) == BLOCK_SIZE:
            yield data
        else:
            yield view.tobytes()


def body(n, seed=DEFAULT_SEED):
    """body(n, seed) as one bytes object (fine up to a few hundred MiB)."""
    return b"".join(body_chunks(n, seed))


def write_body(path, n, seed=DEFAULT_SEED):
    """Writes body(n, seed) to the file at `path` and returns its SHA-256."""
    with open(path, "wb") as out:
        for view in body_views(n, seed):
            out.write(view)
    return body_sha256(n, seed)


def _prefix_state(seed, whole_blocks):
    """The SHA-256 state after `whole_blocks` blocks (the caller's copy).

    Hashing runs under a lock of its own seed only, so a long first hash
    of one seed never holds up callers that need another seed."""
    data = block(seed)
    with _lock:
        seed_lock = _seed_locks.setdefault(seed, threading.Lock())
    with seed_lock:
        states = _states.setdefault(seed, [hashlib.sha256()])
        while len(states) <= whole_blocks:
            state = states[-1].copy()
            state.update(data)
            states.append(state)
        return states[whole_blocks].copy()


def body_sha256(n, seed=DEFAULT_SEED):
    """The lowercase hex SHA-256 of body(n, seed)."""
    if n < 0:
        raise ValueError("negative body length")
    key = (n, seed)
    with _lock:
        cached = _digests.get(key)
    if cached is not None:
        return cached
    whole, rest = divmod(n, BLOCK_SIZE)
    state = _prefix_state(seed, whole)
    if rest:
        state.update(memoryview(block(seed))[:rest])
    digest = state.hexdigest()
    with _lock:
        if len(_digests) >= _DIGEST_CACHE_MAX:
            _digests.clear()
        _digests[key] = digest
    return digest


def sha256_of_file(path):
    """The hex SHA-256 and the length of a file, read in 1 MiB pieces."""
    state = hashlib.sha256()
    length = 0
    with open(path, "rb") as src:
        while True:
            data = src.read(BLOCK_SIZE)
            if not data:
                break
            state.update(data)
            length += len(data)
    return state.hexdigest(), length
