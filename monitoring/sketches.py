"""Quantile sketches (DDSketch) and their compact binary form. Imports nothing from Django.

The `ddsketch` package has no serializer without protobuf, so rollups store the bins
themselves: a sketch with relative accuracy 1 % keeps one counter per logarithmic bucket;
only non-empty buckets are written. Summary fields (count/sum/min/max) live in their own
columns on the rollup rows, and are restored here too so merged sketches stay exact for them.
"""

import struct
from array import array

from ddsketch import DDSketch

RELATIVE_ACCURACY = 0.01
_VERSION = 1
_HEADER = struct.Struct("<BdddddII")  # version, zero count, count, sum, min, max, n positive, n negative


def sketch_new() -> DDSketch:
    return DDSketch(relative_accuracy=RELATIVE_ACCURACY)


def sketch_of(values) -> DDSketch:
    sketch = sketch_new()
    for value in values:
        sketch.add(value)
    return sketch


def _store_items(store) -> tuple[array, array]:
    keys, counts = array("i"), array("d")
    for index, count in enumerate(store.bins):
        if count:
            keys.append(index + store.offset)
            counts.append(count)
    return keys, counts


def sketch_dumps(sketch: DDSketch) -> bytes:
    # Reads the stores' bins directly: ddsketch exposes no other lossless export without protobuf.
    pos_keys, pos_counts = _store_items(sketch._store)
    neg_keys, neg_counts = _store_items(sketch._negative_store)
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
        keys = array("i")
        keys.frombytes(data[offset : offset + 4 * size])
        offset += 4 * size
        counts = array("d")
        counts.frombytes(data[offset : offset + 8 * size])
        offset += 8 * size
        for key, weight in zip(keys, counts, strict=True):
            store.add(key, weight)
    sketch._zero_count = zero
    sketch._count = count
    sketch._sum = total
    sketch._min = low
    sketch._max = high
    return sketch


def sketch_merge_all(sketches) -> DDSketch:
    merged = sketch_new()
    for sketch in sketches:
        merged.merge(sketch)
    return merged


def sketch_quantile(sketch: DDSketch, q: float) -> float | None:
    if sketch.count == 0:
        return None
    value = sketch.get_quantile_value(q)
    # The bucket's representative value can lie slightly outside the observed range; clamp it.
    return min(max(value, sketch._min), sketch._max)
