"""The bound pass over the replica's reduced rows, compiled by numba, on int16 rows: half the
bytes of float32 to read, and the pass is bound by memory. Imported on first use."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def bound(weights, rows, n, extra):
    """extra + weights · rows[:, i] for i < n; ``rows`` (directions × capacity) int16."""
    out = np.full(n, extra, np.float32)
    for j in range(rows.shape[0]):
        w = weights[j]
        row = rows[j]
        for i in range(n):
            out[i] += w * row[i]
    return out
