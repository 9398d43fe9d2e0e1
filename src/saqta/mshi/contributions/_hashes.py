"""The stable 64-bit hash of payment references (FNV-1a over the UTF-8 bytes, then splitmix64).

The import's duplicate check and the compact payments (:mod:`._paid`) both use it, so a refund
matched by reference finds the same hash in either place.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["reference_hashes"]

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def _mix(h: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spreads the bits of a 64-bit hash."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return np.asarray(h ^ (h >> np.uint64(31)), dtype=np.uint64)


def reference_hashes(references: pa.Array) -> np.ndarray:
    """A stable 64-bit hash (FNV-1a over the UTF-8 bytes, then splitmix64) of each reference.

    Computed over whole columns: one vector step per character position. Null hashes as "".
    """
    if isinstance(references, pa.ChunkedArray):
        references = references.combine_chunks()
    text = pc.fill_null(references.cast(pa.string()), "")
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[
        text.offset : text.offset + len(text) + 1
    ]
    data_buffer = text.buffers()[2]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(1, np.uint8)
    )
    if data.size == 0:
        data = np.zeros(1, np.uint8)
    starts = offsets[:-1].astype(np.int64)
    lengths = (offsets[1:] - offsets[:-1]).astype(np.int64)
    h = np.full(len(text), _FNV_OFFSET, dtype=np.uint64)
    longest = int(lengths.max()) if lengths.size else 0
    if lengths.size and int(lengths.min()) == longest and longest > 0:
        # every reference has the same length: the bytes are one (n, width) matrix
        first = int(offsets[0])
        matrix = data[first : first + longest * lengths.size].reshape(lengths.size, longest)
        with np.errstate(over="ignore"):
            for position in range(longest):
                h = (h ^ matrix[:, position].astype(np.uint64)) * _FNV_PRIME
            return _mix(h ^ lengths.astype(np.uint64))
    with np.errstate(over="ignore"):
        for position in range(longest):
            present = lengths > position
            byte = data[np.where(present, starts + position, 0)].astype(np.uint64)
            stepped = (h ^ byte) * _FNV_PRIME
            h = np.where(present, stepped, h)
        h = _mix(h ^ lengths.astype(np.uint64))
    return h
