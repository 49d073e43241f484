"""Bounds of a health check's settings (framework-free: the model's validators and the check
kinds both read them)."""

# Bounds of what people and the API may set, said once here: the model validators serve the admin
# form and the API alike. Past them nothing is useful and date arithmetic in the sweep overflows
# (an interval of 10**12 s stopped every check from being claimed again).
MIN_INTERVAL_SECONDS = 60  # the sweep runs once a minute: a shorter interval would not run more often
MAX_INTERVAL_SECONDS = 86_400  # a check run less than daily tells nobody anything in time
MIN_TIMEOUT_SECONDS = 0.1
MAX_TIMEOUT_SECONDS = 60  # a check runs in a worker thread; longer holds a worker for nothing
MAX_PERIOD_SECONDS = 366 * 86_400  # a heartbeat of a yearly job
MAX_GRACE_SECONDS = 31 * 86_400
MAX_DEGRADED_MS = MAX_TIMEOUT_SECONDS * 1000  # slower than the timeout is a failure, not a degradation
