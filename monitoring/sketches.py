"""Quantile sketches (DDSketch) and their compact binary form. Imports nothing from Django.

The `ddsketch` package has no serializer without protobuf, and its per-value `add` and
per-bucket `merge` are Python loops; rollups build, store and merge thousands of sketches, so
this module works on the bins with numpy and hands back ordinary `DDSketch` objects:
- `sketch_from_values` maps many values to bins at once (same mapping as `DDSketch.add`);
- `sketch_dumps`/`sketch_loads` store only non-empty bins (int32 key + float64 count each);
- `sketch_merge_all` adds the bins of many sketches in one pass.
This relies on ddsketch's private layout (the sketch's `_store`, `_negative_store`, `_mapping`,
`_zero_count`, `_count`, `_sum`, `_min`, `_max`; DenseStore's bins, offset, min_key, max_key,
count; LogarithmicMapping's `_multiplier`, `_offset`). Only this module touches it, pyproject.toml
pins the tested minor release (DDSKETCH_TESTED), and tests/monitoring/test_sketches.py fails
loudly when a release changes it.
"""

import math
import struct

import numpy as np
from ddsketch import DDSketch

from portal.lib.finite import finite_sum

DDSKETCH_TESTED = "3.0.1"  # keep in step with pyproject.toml and constraints.txt
RELATIVE_ACCURACY = 0.01
FEW = 64  # below this many values plain Python beats numpy's per-call cost
_VERSION = 1
_HEADER = struct.Struct("<BdddddII")  # version, zero count, count, sum, min, max, n positive, n negative
# The same header as a numpy record, to read the headers of thousands of blobs at once.
_HEADER_RECORD = np.dtype(
    [
        ("version", "u1"),
        ("zero", "<f8"),
        ("count", "<f8"),
        ("sum", "<f8"),
        ("min", "<f8"),
        ("max", "<f8"),
        ("n_pos", "<u4"),
        ("n_neg", "<u4"),
    ]
)


def sketch_new() -> DDSketch:
    return DDSketch(relative_accuracy=RELATIVE_ACCURACY)


_MAPPING = sketch_new()._mapping
MIN_POSITIVE = _MAPPING.min_possible  # magnitudes at or below this count as zero


def sketch_keys(magnitudes: np.ndarray) -> np.ndarray:
    """Bin keys of positive magnitudes (> MIN_POSITIVE), as `LogarithmicMapping.key` gives them."""
    return (np.ceil(np.log2(magnitudes) * _MAPPING._multiplier) + _MAPPING._offset).astype(np.int64)


def _fill(store, offset: int, bins: np.ndarray) -> None:
    """Make a DenseStore hold `bins` (dense counts) starting at key `offset`."""
    nonzero = np.flatnonzero(bins)
    if not len(nonzero):
        return
    first, last = int(nonzero[0]), int(nonzero[-1])
    store.bins = bins[first : last + 1].tolist()
    store.offset = store.min_key = offset + first
    store.max_key = offset + last
    store.count = float(bins.sum())


def _fill_keys(store, keys: np.ndarray, counts: np.ndarray) -> None:
    if not len(keys):
        return
    low = int(keys.min())
    bins = np.zeros(int(keys.max()) - low + 1)
    np.add.at(bins, keys - low, counts)
    _fill(store, low, bins)


def _fill_dict(store, counts: dict[int, float]) -> None:
    low, high = min(counts), max(counts)
    bins = [0.0] * (high - low + 1)
    for key, count in counts.items():
        bins[key - low] = count
    store.bins = bins
    store.offset = store.min_key = low
    store.max_key = high
    store.count = float(sum(counts.values()))


def _from_few_values(values: list[float]) -> DDSketch:
    """Plain Python for a handful of values: numpy's fixed cost would dominate, and
    DDSketch.add regrows its store for every new bucket."""
    sketch = sketch_new()
    mapping = sketch._mapping
    smallest, multiplier, shift = mapping.min_possible, mapping._multiplier, mapping._offset
    positive: dict[int, float] = {}
    negative: dict[int, float] = {}
    for value in values:
        if value > smallest:
            key = int(math.ceil(math.log(value, 2) * multiplier) + shift)  # = LogarithmicMapping.key
            positive[key] = positive.get(key, 0.0) + 1.0
        elif value < -smallest:
            key = int(math.ceil(math.log(-value, 2) * multiplier) + shift)
            negative[key] = negative.get(key, 0.0) + 1.0
    if positive:
        _fill_dict(sketch._store, positive)
    if negative:
        _fill_dict(sketch._negative_store, negative)
    sketch._zero_count = float(len(values) - sum(positive.values()) - sum(negative.values()))
    sketch._count = float(len(values))
    sketch._sum = finite_sum(values)
    sketch._min = min(values)
    sketch._max = max(values)
    return sketch


def sketch_from_values(values) -> DDSketch:
    """A sketch of many values at once; equal to adding them one by one (up to float rounding
    of the logarithm at bucket edges)."""
    if len(values) < FEW:
        return _from_few_values(list(values)) if len(values) else sketch_new()
    array = np.asarray(values, dtype=float)
    sketch = sketch_new()
    positive = array[array > MIN_POSITIVE]
    negative = -array[array < -MIN_POSITIVE]
    for store, part in ((sketch._store, positive), (sketch._negative_store, negative)):
        if len(part):
            unique, counts = np.unique(sketch_keys(part), return_counts=True)
            _fill_keys(store, unique, counts.astype(float))
    sketch._zero_count = float(len(array) - len(positive) - len(negative))
    sketch._count = float(len(array))
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(array.sum())
    sketch._sum = total if math.isfinite(total) else finite_sum(values)  # huge rows from before the value bound
    sketch._min = float(array.min())
    sketch._max = float(array.max())
    return sketch


def sketch_of(values) -> DDSketch:
    return sketch_from_values(list(values))


def _items(store) -> tuple[np.ndarray, np.ndarray]:
    bins = np.asarray(store.bins, dtype=float)
    nonzero = np.flatnonzero(bins)
    return (nonzero + store.offset).astype("<i4"), bins[nonzero].astype("<f8")


def sketch_dumps(sketch: DDSketch) -> bytes:
    pos_keys, pos_counts = _items(sketch._store)
    neg_keys, neg_counts = _items(sketch._negative_store)
    header = _HEADER.pack(
        _VERSION,
        sketch._zero_count,
        sketch.count,
        sketch.sum,
        sketch._min,
        sketch._max,
        len(pos_keys),
        len(neg_keys),
    )
    return b"".join([header, pos_keys.tobytes(), pos_counts.tobytes(), neg_keys.tobytes(), neg_counts.tobytes()])


def sketch_loads(data: bytes) -> DDSketch:
    version, zero, count, total, low, high, n_pos, n_neg = _HEADER.unpack_from(data, 0)
    if version != _VERSION:
        raise ValueError(f"unknown sketch format version {version}")
    sketch = sketch_new()
    offset = _HEADER.size
    for store, size in ((sketch._store, n_pos), (sketch._negative_store, n_neg)):
        keys = np.frombuffer(data, dtype="<i4", count=size, offset=offset)
        offset += 4 * size
        counts = np.frombuffer(data, dtype="<f8", count=size, offset=offset)
        offset += 8 * size
        _fill_keys(store, keys, counts)
    sketch._zero_count = zero
    sketch._count = count
    sketch._sum = total
    sketch._min = low
    sketch._max = high
    return sketch


def sketch_merge_packed(blobs, extra=()) -> DDSketch:
    """Merge serialized sketches straight from their bytes (plus already decoded `extra` ones):
    one concatenation and one np.add.at instead of building a DDSketch per blob."""
    headers, pos_keys, pos_counts, neg_keys, neg_counts = [], [], [], [], []
    for data in blobs:
        header = _HEADER.unpack_from(data, 0)
        if header[0] != _VERSION:
            raise ValueError(f"unknown sketch format version {header[0]}")
        headers.append(header)
        n_pos, n_neg = header[6], header[7]
        offset = _HEADER.size
        pos_keys.append(np.frombuffer(data, dtype="<i4", count=n_pos, offset=offset))
        pos_counts.append(np.frombuffer(data, dtype="<f8", count=n_pos, offset=offset + 4 * n_pos))
        offset += 12 * n_pos
        neg_keys.append(np.frombuffer(data, dtype="<i4", count=n_neg, offset=offset))
        neg_counts.append(np.frombuffer(data, dtype="<f8", count=n_neg, offset=offset + 4 * n_neg))
    merged = sketch_new()
    headers = [h for h in headers if h[2]]
    if headers:
        _fill_keys(merged._store, np.concatenate(pos_keys), np.concatenate(pos_counts))
        _fill_keys(merged._negative_store, np.concatenate(neg_keys), np.concatenate(neg_counts))
        merged._zero_count = sum(h[1] for h in headers)
        merged._count = sum(h[2] for h in headers)
        merged._sum = finite_sum([h[3] for h in headers])
        merged._min = min(h[4] for h in headers)
        merged._max = max(h[5] for h in headers)
    extra = [s for s in extra if s.count]
    return sketch_merge_all([merged, *extra]) if extra else merged


def _merge_stores(target, stores) -> None:
    parts = [(s.offset, s.bins) for s in stores if s.count]
    if not parts:
        return
    low = min(offset for offset, _ in parts)
    high = max(offset + len(bins) for offset, bins in parts)
    acc = np.zeros(high - low)
    for offset, bins in parts:
        acc[offset - low : offset - low + len(bins)] += bins
    _fill(target, low, acc)


def sketch_merge_all(sketches) -> DDSketch:
    """One sketch holding every value of `sketches` (all made by sketch_new's parameters)."""
    sketches = [s for s in sketches if s.count]
    merged = sketch_new()
    if not sketches:
        return merged
    _merge_stores(merged._store, [s._store for s in sketches])
    _merge_stores(merged._negative_store, [s._negative_store for s in sketches])
    merged._zero_count = sum(s._zero_count for s in sketches)
    merged._count = sum(s._count for s in sketches)
    merged._sum = finite_sum([s._sum for s in sketches])
    merged._min = min(s._min for s in sketches)
    merged._max = max(s._max for s in sketches)
    return merged


def sketch_quantile(sketch: DDSketch, q: float) -> float | None:
    if sketch.count == 0:
        return None
    value = sketch.get_quantile_value(q)
    # The bucket's representative value can lie slightly outside the observed range; clamp it.
    return min(max(value, sketch._min), sketch._max)


class _Bins:
    """The bins of many groups, sorted by (group, key) once, with running counts: then asked for
    any number of ranks (a scrape asks three quantiles of the same bins)."""

    def __init__(self, gids: np.ndarray, keys: np.ndarray, counts: np.ndarray, groups: int):
        order_key = gids * (1 << 32) + keys
        if len(order_key) > 1 and not (np.diff(order_key) >= 0).all():  # several blobs, or raw values
            order = np.argsort(order_key, kind="stable")
            gids, keys, counts = gids[order], keys[order], counts[order]
        self.keys = keys
        self.running = np.cumsum(counts)
        sizes = np.bincount(gids, minlength=groups)
        self.totals = np.bincount(gids, weights=counts, minlength=groups)
        self.ends = np.cumsum(sizes)
        self.starts = self.ends - sizes
        before = self.running[np.maximum(self.starts - 1, 0)] if len(keys) else np.zeros(groups)
        self.base = np.where(self.starts > 0, before, 0.0)  # the running count before each group

    def key_at(self, targets: np.ndarray, *, at_least: bool) -> np.ndarray:
        """Per group, DenseStore.key_at_rank over the group's bins: the key of the first bin (in
        key order) where the group's running count passes targets[g] (`> target`, or
        `>= target + 1` when at_least, which is `lower=False`), else its largest key; 0 for a
        group without bins.

        Exactly ddsketch's answer: counts are whole numbers, so running counts are exact integers
        and `running > t` is `running >= floor(t) + 1` (`>= t + 1` is `>= ceil(t + 1)`), an
        integer threshold that can be added to the counts before a group without rounding (adding
        the fractional target can round across an integer: 2**52 + 9.5 is 2**52 + 10)."""
        out = np.zeros(len(self.starts), dtype=np.int64)
        keys, starts, ends = self.keys, self.starts, self.ends
        if not len(keys):
            return out
        threshold = np.ceil(targets + 1) if at_least else np.floor(targets) + 1
        first = np.maximum(np.searchsorted(self.running, self.base + threshold, side="left"), starts)
        chosen = np.where(first < ends, keys[np.minimum(first, len(keys) - 1)], keys[np.maximum(ends - 1, 0)])
        present = ends > starts
        out[present] = chosen[present]
        return out


def _key_values(keys: np.ndarray) -> np.ndarray:
    """LogarithmicMapping.value of many keys."""
    return np.power(2.0, (keys - _MAPPING._offset) / _MAPPING._multiplier) * (2.0 / (1 + _MAPPING.gamma))


def _unpack_groups(groups: list, n: int) -> tuple:
    """The serialized sketches of `n` groups (a list of blobs each) read in a few numpy passes:
    (zero count, count, min, max) per group, and per sign (True: positive) the group, key and
    count of every bin, in the order of the blobs. Blobs with no values are left out, as merging
    them would. A chart of 60 series over a week is 10,000 blobs: a Python loop slicing each one
    was most of answering its quantiles."""
    zero, count = np.zeros(n), np.zeros(n)
    low, high = np.full(n, math.inf), np.full(n, -math.inf)
    flat = [data for blobs in groups for data in blobs]
    if not flat:
        nothing = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        return zero, count, low, high, {True: nothing, False: nothing}
    owner = np.repeat(np.arange(n, dtype=np.int64), [len(blobs) for blobs in groups])
    lengths = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
    buffer = np.frombuffer(b"".join(flat), dtype=np.uint8)
    starts = np.cumsum(lengths) - lengths
    if (lengths < _HEADER.size).any():
        raise ValueError("truncated sketch")
    header = buffer[starts[:, None] + np.arange(_HEADER.size)].view(_HEADER_RECORD)[:, 0]
    wrong = header["version"] != _VERSION
    if wrong.any():
        raise ValueError(f"unknown sketch format version {header['version'][wrong][0]}")
    n_pos, n_neg = header["n_pos"].astype(np.int64), header["n_neg"].astype(np.int64)
    rest = lengths - _HEADER.size - 12 * (n_pos + n_neg)
    if (rest < 0).any():
        raise ValueError("truncated sketch")
    used = header["count"] != 0
    # Each blob is six runs of bytes: header, positive keys, positive counts, negative keys,
    # negative counts, anything after. Labelling every byte with its run (0 for those not read)
    # gathers each kind of run of all blobs, in blob order, with one mask.
    runs = np.stack([np.full(len(flat), _HEADER.size), 4 * n_pos, 8 * n_pos, 4 * n_neg, 8 * n_neg, rest], axis=1)
    kinds = np.tile(np.array([0, 1, 2, 3, 4, 0], dtype=np.int8), (len(flat), 1))
    kinds[~used] = 0
    labels = np.repeat(kinds.ravel(), runs.ravel())
    owners = owner[used]
    zero += np.bincount(owners, weights=header["zero"][used], minlength=n)  # added in blob order, as += would
    count += np.bincount(owners, weights=header["count"][used], minlength=n)
    np.minimum.at(low, owners, header["min"][used])
    np.maximum.at(high, owners, header["max"][used])
    parts = {}
    for positive, (keys, counts, sizes) in ((True, (1, 2, n_pos)), (False, (3, 4, n_neg))):
        parts[positive] = (
            np.repeat(owner, np.where(used, sizes, 0)),
            buffer[labels == keys].view("<i4").astype(np.int64),
            buffer[labels == counts].view("<f8"),
        )
    return zero, count, low, high, parts


def sketch_quantiles_grouped(groups, quantiles) -> list[list[float | None]]:
    """`sketch_quantile(merge of group, q)` for each q and each group at once, where a group is
    (serialized sketches, raw values): the bins of all groups are read from the bytes into a few
    arrays and searched in one pass, where a DDSketch per group costs ~0.3 ms (a scrape has
    thousands). None for an empty group."""
    n = len(groups)
    zero, count, low, high, stored = _unpack_groups([blobs for blobs, _ in groups], n)
    raw_gids = [np.full(len(values), g) for g, (_, values) in enumerate(groups) if len(values)]
    raw_values = [np.asarray(values, dtype=float) for _, values in groups if len(values)]
    values = np.concatenate(raw_values) if raw_values else np.zeros(0)
    owners = np.concatenate(raw_gids) if raw_gids else np.zeros(0, dtype=np.int64)
    if len(values):
        count += np.bincount(owners, minlength=n)
        zero += np.bincount(owners, weights=np.abs(values) <= MIN_POSITIVE, minlength=n)
        np.minimum.at(low, owners, values)
        np.maximum.at(high, owners, values)
    bins = {}
    for positive, (gids, keys, counts) in stored.items():
        mask = values > MIN_POSITIVE if positive else values < -MIN_POSITIVE
        bins[positive] = _Bins(
            np.concatenate([gids, owners[mask]]),
            np.concatenate([keys, sketch_keys(np.abs(values[mask]))]),
            np.concatenate([counts, np.ones(int(mask.sum()))]),
            n,
        )
    negative = bins[False].totals
    answers = [[None] * len(quantiles) for _ in range(n)]
    for column, q in enumerate(quantiles):
        rank = q * (count - 1)
        positive_value = _key_values(bins[True].key_at(rank - zero - negative, at_least=False))
        negative_value = -_key_values(bins[False].key_at(negative - rank - 1, at_least=True))
        value = np.where(rank < negative, negative_value, np.where(rank < zero + negative, 0.0, positive_value))
        value = np.minimum(np.maximum(value, low), high)
        for g in np.flatnonzero(count):
            answers[g][column] = float(value[g])
    return answers


def sketch_quantiles_packed(groups, q: float) -> list[float | None]:
    """`sketch_quantile(sketch_merge_packed(blobs), q)` for each group of serialized sketches,
    equal to it exactly and in one numpy pass over the bins of all groups: a chart of 60 series
    over a week is 10,080 groups, and a DDSketch per group cost ~0.1 ms. None for an empty group."""
    n = len(groups)
    zero, count, low, high, stored = _unpack_groups(groups, n)
    ranks = q * (count - 1)
    bins = {positive: _Bins(gids, keys, counts, n) for positive, (gids, keys, counts) in stored.items()}
    negative = bins[False].totals
    # DDSketch.get_quantile_value's ranks, with its order of operations
    positive_keys = bins[True].key_at(ranks - zero - negative, at_least=False)
    negative_keys = bins[False].key_at(negative - ranks - 1, at_least=True)
    answers: list[float | None] = [None] * n
    value = _MAPPING.value
    # Python numbers from here: indexing numpy arrays one element at a time costs ~10x more.
    negative, positive_keys, negative_keys = negative.tolist(), positive_keys.tolist(), negative_keys.tolist()
    zero, count, low, high = zero.tolist(), count.tolist(), low.tolist(), high.tolist()
    for g in range(n):
        if not count[g]:
            continue
        rank = q * (count[g] - 1)
        if rank < negative[g]:
            found = -value(negative_keys[g])
        elif rank < zero[g] + negative[g]:
            found = 0
        else:
            found = value(positive_keys[g])
        answers[g] = min(max(found, low[g]), high[g])
    return answers
