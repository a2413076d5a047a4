"""The order of training batches: reproducible per (seed, epoch), and neutral to the global RNG, so a resumed
run sees exactly the batches and dropout the uninterrupted one would have."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


class EpochPermutationSampler(Sampler[int]):
    """Shuffles with a generator seeded by (seed, epoch): the order of any epoch is known without state,
    so a resumed run sees exactly the batches the killed one would have."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.n).tolist())

    def __len__(self) -> int:
        return self.n


def rng_neutral(loader: Any) -> Iterator[Any]:
    """Iterate a (prepared) DataLoader without its per-epoch seed draw touching the global torch RNG.

    The draw happens lazily, at the first next() (accelerate's loaders are generators), and a resumed run
    makes it at a different point of the RNG stream than the uninterrupted run: dropout would then differ.
    Restoring the state after the first batch makes the stream depend only on the steps taken."""
    state = torch.get_rng_state()
    iterator = iter(loader)
    try:
        first = next(iterator)
    except StopIteration:
        return
    torch.set_rng_state(state)
    yield first
    yield from iterator
