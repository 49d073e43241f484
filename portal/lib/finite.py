"""Arithmetic and JSON that stay finite.

Accepted metric values are bounded (monitoring.labels.MAX_ABS_VALUE), so sums of new data cannot
leave the float range. Rows stored before that bound (or written around validation) can: two
samples of 1e308 made `math.fsum` raise, `sum` return inf, and DRF's strict JSON renderer answer
500 (django-chartjs wrote a bare `Infinity`, which is not JSON). Imports nothing from Django.
"""

import math
import sys

FLOAT_MAX = sys.float_info.max


def saturate(value: float) -> float:
    """±inf becomes ±FLOAT_MAX; NaN stays NaN."""
    return FLOAT_MAX if value > FLOAT_MAX else -FLOAT_MAX if value < -FLOAT_MAX else value


def finite_sum(values) -> float:
    """`math.fsum` that never raises nor returns inf/NaN: NaN inputs are skipped, and a total
    beyond the float range saturates at ±FLOAT_MAX."""
    values = values if isinstance(values, list) else list(values)
    try:
        total = math.fsum(values)
        if -FLOAT_MAX <= total <= FLOAT_MAX:
            return total
    except (OverflowError, ValueError):  # an intermediate overflow, or inf + -inf
        pass
    kept = [saturate(v) for v in values if v == v]
    # Scaled down by 2**k (k > log2 n), no partial sum can overflow; scaled back, it saturates.
    k = len(kept).bit_length() + 1
    return saturate(math.fsum([math.ldexp(v, -k) for v in kept]) * 2.0**k)


def finite_or_none(value):
    """A float that JSON can carry, else None (null): no data beats a broken document."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_finite(data):
    """`data` with every non-finite float replaced by None, through dicts, lists and tuples."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: json_finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [json_finite(item) for item in data]
    return data
