"""The aggregations a metric query can compute, apart from the query engine (monitoring.query),
so models and forms that offer them as choices do not load numpy and ddsketch."""

# predict_linear: the least-squares line through the window's per-minute averages, read
# `horizon` seconds after the window's end (a rule's `horizon`; 0 elsewhere), like Prometheus'.
AGGREGATIONS = ("avg", "min", "max", "sum", "count", "rate", "p50", "p75", "p95", "p99", "last", "predict_linear")
