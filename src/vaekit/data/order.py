"""The data order of a run: which examples each training batch holds, reproducibly.

vaekit owns the data order (Keras' own shuffling differs between backends and lives in global random
state), so a resumed run sees exactly the batches an uninterrupted one would.
"""

import math

import numpy as np

from vaekit.data.dataset import sample_binary


class EpochBatches:
    """Shuffled training batches whose content depends only on (seed, epoch, batch index).

    vaekit owns the data order (Keras' own shuffling differs between backends and lives in global
    random state), so a resumed run sees exactly the batches an uninterrupted one would. With
    `binarize=True`, grey images are re-binarized every epoch: x_bin ~ Bernoulli(x), seeded by
    (seed, epoch, batch) ("dynamic binarization").

    `stream(epoch)` feeds `fit` as a generator: the k-th batch it yields is batch k % len(self) of
    epoch `epoch + k // len(self)`, however far ahead a backend prefetches.

    Args:
        x: Training images `(n, H, W, C)`.
        batch_size: Images per batch; the last batch of an epoch may be smaller.
        seed: Seed of the orders (and the binarization draws).
        binarize: Re-binarize every epoch.
    """

    def __init__(self, x, batch_size, seed, binarize=False):
        self.x, self.batch_size, self.seed, self.binarize = x, batch_size, seed, binarize

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def order(self, epoch):
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def indices(self, epoch):
        """The example indices of each batch of one epoch, in order (sorted within a batch)."""
        order = self.order(epoch)
        size = self.batch_size
        return [np.sort(order[i * size : (i + 1) * size]) for i in range(len(self))]

    def epoch(self, epoch):
        """The batches of one epoch, in order."""
        for index, idx in enumerate(self.indices(epoch)):
            batch = self.x[idx]  # (batch, H, W, C)
            if self.binarize:
                batch = sample_binary(batch, np.random.default_rng([self.seed, epoch, index]))
            yield batch

    def stream(self, epoch=0):
        """`(batch,)` tuples, as `fit` takes them: epoch `epoch`, then the next, forever."""
        while True:
            for batch in self.epoch(epoch):
                yield (batch,)
            epoch += 1


def binarize_once(x, seed):
    """One fixed Bernoulli draw of grey images (how validation and test are scored under dynamic)."""
    return sample_binary(x, np.random.default_rng(seed))


SCORED_SPLIT_SEED_OFFSETS = {"train": 0, "val": 1, "test": 2}


def scored_split(x, split, seed):
    """A split as a dynamically binarized run scores it: one fixed draw, seeded per split."""
    return binarize_once(x, seed + SCORED_SPLIT_SEED_OFFSETS[split])
