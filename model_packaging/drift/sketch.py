"""A KLL quantile sketch with deterministic compactions: the numeric distribution of a baseline.

Model Monitor's statistics.json describes a numeric feature's distribution by a KLL sketch
(Karnin, Lang, Liberty 2016): its parameters and its compactors' items ("Schema for
Statistics", ``distribution.kll.sketch``). DataSketches' own KLL sketch draws its compaction
offsets from a process-wide random generator that cannot be seeded from Python (two runs give
two different sketches), so the sketch here is a small deterministic one written with numpy,
whose compactions take their offsets from a golden-ratio sequence: the same values in the same
order give the same sketch.
"""

from __future__ import annotations

import math

import numpy as np

# The parameters of the KLL sketch of Deequ, on which Model Monitor's analyzer is built
# (awslabs/deequ, analyzers/KLLSketch.scala: shrinking factor c 0.64, sketch size k 2048, written
# as parameters [c, k] with the compactors' items as data): a sketch of the same size and shape.
KLL_K = 2048
KLL_C = 0.64

_GOLDEN = (math.sqrt(5) - 1) / 2
# A block leaves its groups with at most this many times k items; the ordinary compactions,
# over items merged from many groups, take it from there.
_GROUPED_KEEP = 8


class KllSketch:
    """A KLL quantile sketch (Karnin, Lang, Liberty 2016) with deterministic compactions.

    Level ``h`` holds items of weight ``2**h``. A level that outgrows its capacity
    (``ceil(k * c**depth)``, at least 2, depth counted from the top level) is sorted and
    every other item moves up a level. Which half (odd or even positions) is not drawn at
    random but follows a low-discrepancy sequence per level, so the same input gives the same
    sketch and the halves still balance. An odd item stays behind, so the total weight always
    equals the number of items. The retained items number about ``k / (1 - c)``, plus at most
    ``BUFFER`` values waiting to be added; the rank error stays within DataSketches' documented
    bound for a KLL sketch of this ``k`` (0.14% for k=2048: the tests check it).
    """

    # Values wait in a buffer and join the sketch this many at a time: one compaction pass
    # per buffer rather than per block read keeps the cost per value down.
    BUFFER = 1 << 17

    def __init__(self, k: int = KLL_K, c: float = KLL_C) -> None:
        self.k, self.c = k, c
        self.levels: list[np.ndarray] = [np.empty(0)]
        self._compactions: list[int] = [0]
        self._pending: list[np.ndarray] = []
        self._pending_count = 0
        self.n = 0

    def capacity(self, level: int) -> int:
        depth = len(self.levels) - 1 - level
        return max(2, math.ceil(self.k * self.c**depth))

    def update(self, values: np.ndarray) -> None:
        self.n += len(values)
        self._pending.append(values)
        self._pending_count += len(values)
        if self._pending_count >= self.BUFFER:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        values = np.concatenate(self._pending)
        self._pending, self._pending_count = [], 0
        whole = len(values) - len(values) % self.k
        if whole:
            self._add_groups(values[:whole].reshape(-1, self.k))
        self.levels[0] = np.concatenate([self.levels[0], values[whole:]])
        self._compact()

    def _add_groups(self, groups: np.ndarray) -> None:
        """Compact a block's items in groups of ``k`` before they join the levels.

        Sorting many short rows costs far less than sorting the whole block. Each sorted group
        keeps every ``s``-th item (``s`` the smallest power of two that leaves at most
        ``_GROUPED_KEEP * k`` of the block), at weight ``s``, from a different offset per group:
        offsets spread evenly over ``0..s-1``, so the groups' rounding errors cancel instead of
        adding up, as a random offset's would on average.
        """
        rows, width = groups.shape
        level = 0
        while rows * (width >> level) > _GROUPED_KEEP * self.k and (width >> level) > 1:
            level += 1
        self._ensure(level)
        stride = 1 << level
        offsets = self._offsets_for(level, rows, stride)
        positions = offsets[:, None] + stride * np.arange(width // stride)[None, :]
        kept = np.take_along_axis(np.sort(groups, axis=1), positions, axis=1)
        self.levels[level] = np.concatenate([self.levels[level], kept.ravel()])

    def _offsets_for(self, level: int, count: int, stride: int) -> np.ndarray:
        """The next ``count`` offsets in ``0..stride-1`` of ``level``'s sequence.

        The sequence is the golden-ratio (Weyl) sequence: deterministic, and as evenly spread
        over any run of compactions as a sequence can be.
        """
        start = self._compactions[level]
        self._compactions[level] += count
        fractions: np.ndarray = np.modf((start + np.arange(count)) * _GOLDEN)[0]
        return (fractions * stride).astype(np.int64)

    def _ensure(self, level: int) -> None:
        while len(self.levels) <= level:
            self.levels.append(np.empty(0))
            self._compactions.append(0)

    def _compact(self) -> None:
        level = 0
        while level < len(self.levels):
            items = self.levels[level]
            if len(items) > self.capacity(level):
                self._ensure(level + 1)
                items = np.sort(items)
                kept = items[len(items) - len(items) % 2 :]
                offset = int(self._offsets_for(level, 1, 2)[0])
                promoted = items[offset : len(items) - len(kept) : 2]
                self.levels[level] = kept
                self.levels[level + 1] = np.concatenate([self.levels[level + 1], promoted])
            level += 1

    def weighted(self) -> tuple[np.ndarray, np.ndarray]:
        """All retained items, sorted, with their weights."""
        self._flush()
        items = np.concatenate(self.levels)
        weights = np.concatenate(
            [np.full(len(level), 1 << h, dtype=np.int64) for h, level in enumerate(self.levels)]
        )
        order = np.argsort(items, kind="stable")
        return items[order], weights[order]

    def quantile(self, rank: float) -> float:
        """The smallest retained item whose cumulative weight reaches ``rank * n``."""
        items, weights = self.weighted()
        if not len(items):
            return math.nan
        cumulative = np.cumsum(weights)
        index = int(np.searchsorted(cumulative, rank * self.n, side="left"))
        return float(items[min(index, len(items) - 1)])

    def data(self) -> list[list[float]]:
        """The levels, lowest first, each sorted: statistics.json's ``sketch.data``."""
        self._flush()
        return [[float(v) for v in np.sort(level)] for level in self.levels]
