"""The aggregations a metric query can compute, apart from the query engine (monitoring.query),
so models and forms that offer them as choices do not load numpy and ddsketch."""

AGGREGATIONS = ("avg", "min", "max", "sum", "count", "rate", "p50", "p75", "p95", "p99", "last")
