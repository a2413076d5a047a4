"""The sparse F1 table: every feature's nonzero span rewards in one CSR layout.

Only nonzero values are stored; every other span's reward is 0. Row k holds feature k's entries
``row_ptr[k]:row_ptr[k + 1]`` of ``starts`` / ``ends`` / ``values``, sorted by start then end. The null
span (NULL_INDEX, NULL_INDEX) = (0, 0), i.e. [CLS], stands for "no answer in this window".
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NULL_INDEX = 0  # token 0 is [CLS]; the span (0, 0) means "no answer"


def row_pointers(lengths: Sequence[int] | np.ndarray) -> np.ndarray:
    """CSR row pointers (n + 1,) int64 of rows with these lengths: row k is [ptr[k], ptr[k + 1])."""
    ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lengths, dtype=np.int64), out=ptr[1:])
    return ptr


@dataclass(frozen=True)
class F1Table:
    """Sparse per-feature rewards in CSR layout: row k holds entries row_ptr[k]:row_ptr[k + 1]."""

    row_ptr: np.ndarray  # int64, (n_features + 1,)
    starts: np.ndarray  # int32, (nnz,)
    ends: np.ndarray  # int32, (nnz,)
    values: np.ndarray  # float32, (nnz,)

    def __len__(self) -> int:
        return len(self.row_ptr) - 1

    @property
    def nnz(self) -> int:
        return len(self.values)

    def row(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, values) of feature k (views, sorted by start then end)."""
        if not 0 <= k < len(self):
            raise IndexError(f"feature {k} out of range for an F1 table of {len(self)} features")
        a, b = int(self.row_ptr[k]), int(self.row_ptr[k + 1])
        return self.starts[a:b], self.ends[a:b], self.values[a:b]

    def as_columns(self) -> dict[str, list[list]]:
        """Ragged columns f1_starts / f1_ends / f1_values (e.g. for Dataset.add_column)."""
        rows = [self.row(k) for k in range(len(self))]
        return {
            "f1_starts": [s.tolist() for s, _, _ in rows],
            "f1_ends": [e.tolist() for _, e, _ in rows],
            "f1_values": [v.tolist() for _, _, v in rows],
        }

    def checksum(self) -> str:
        """sha256 over the payload arrays (dtype, shape and bytes)."""
        h = hashlib.sha256()
        for arr in (self.row_ptr, self.starts, self.ends, self.values):
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def check(self) -> None:
        """Raise ValueError unless the arrays form a consistent CSR table."""
        rp = self.row_ptr
        if (
            rp.dtype != np.int64
            or self.starts.dtype != np.int32
            or self.ends.dtype != np.int32
            or self.values.dtype != np.float32
        ):
            raise ValueError("F1 table arrays have unexpected dtypes")
        if rp.ndim != 1 or len(rp) < 1 or rp[0] != 0 or np.any(np.diff(rp) < 0):
            raise ValueError("F1 table row pointers are not a non-decreasing list starting at 0")
        if not (int(rp[-1]) == len(self.starts) == len(self.ends) == len(self.values)):
            raise ValueError("F1 table row pointers do not match the entry arrays' length")

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> F1Table:
        row_ptr = row_pointers([len(r[0]) for r in rows])

        def cat(i: int, dtype: type) -> np.ndarray:
            return np.concatenate([np.asarray(r[i], dtype=dtype) for r in rows]) if rows else np.zeros(0, dtype=dtype)

        return cls(row_ptr, cat(0, np.int32), cat(1, np.int32), cat(2, np.float32))
