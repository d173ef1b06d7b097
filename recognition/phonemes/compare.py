"""Comparing phone sequences: the edit-distance alignment that accuracy measures (phone error rate,
boundary error of matched phones) are built on."""

from __future__ import annotations

import numpy as np


def edit_alignment(a: list[str], b: list[str]) -> tuple[int, list[tuple[int | None, int | None]]]:
    """Levenshtein distance between label sequences `a` and `b`, and one optimal alignment as index pairs
    `(i, j)`, `(i, None)` (deleted from `a`) or `(None, j)` (inserted from `b`), in order."""
    n, m = len(a), len(b)
    d = np.zeros((n + 1, m + 1), np.int32)
    d[:, 0], d[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if i and j and d[i, j] == d[i - 1, j - 1] + (a[i - 1] != b[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and d[i, j] == d[i - 1, j] + 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return int(d[n, m]), pairs[::-1]
