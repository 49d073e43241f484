"""Latency of a trivial view with and without monitoring.requests.RequestMetricsMiddleware.

    .venv/bin/python bench/middleware_overhead.py [--requests 20000] [--rounds 5]

Two Django WSGI handlers in one process, identical but for the request middleware, answer the
same request alternately (A, B, A, B ...), each call timed on its own, so both sides see the same
machine load. Two stacks: the middleware alone in front of the view (the worst case: Django's
handler and URL resolution are all the other work), and behind Django's common middleware
(security, common, clickjacking), closer to a real project. Goal (issue 11): median and p99
ratio <= 1.05. No database: the view does nothing and the registry is drained between rounds
(the portal's flusher writes in a background thread, off the request path).
"""

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django
from django.conf import settings

METRICS = "monitoring.requests.RequestMetricsMiddleware"
COMMON = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def view(request, pk):
    from django.http import HttpResponse

    return HttpResponse(b"ok")


def urlpatterns_make():
    from django.urls import include, path

    items = [path("<int:pk>/", view)]
    # A few siblings before the match, so resolution is not the trivial single-pattern case.
    others = [path(f"other{i}/<int:pk>/", view) for i in range(10)]
    return [*others, path("api/items/", include(items))]


def handler_with(middleware: list[str]):
    from django.core.handlers.wsgi import WSGIHandler

    settings.MIDDLEWARE = middleware
    handler = WSGIHandler()  # reads MIDDLEWARE now
    return handler


def environ() -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/items/7/",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "HTTP_HOST": "bench",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def start_response(status, headers, exc_info=None):
    return None


def call(handler) -> int:
    clock = time.perf_counter_ns
    start = clock()
    response = handler(environ(), start_response)
    response.close()
    return clock() - start


def p99(samples: list[int]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def compare(name: str, plain, measured, requests: int, rounds: int) -> None:
    from monitoring.metrics import REGISTRY

    for _ in range(2000):  # warm both: URL caches, the middleware's series cache
        call(plain), call(measured)
    medians, tails = [], []
    for _ in range(rounds):
        a, b = [], []
        for _ in range(requests):
            a.append(call(plain))
            b.append(call(measured))
        REGISTRY.take()  # what the flusher would have written
        medians.append((statistics.median(a), statistics.median(b)))
        tails.append((p99(a), p99(b)))
    print(f"\n{name}: {rounds} rounds of {requests:,} interleaved requests per side")
    print("  round  median without  median with  ratio   p99 without  p99 with  ratio")
    for i, ((ma, mb), (ta, tb)) in enumerate(zip(medians, tails, strict=True), 1):
        middle = f"{ma / 1000:11.1f} µs  {mb / 1000:8.1f} µs  {mb / ma:5.3f}"
        print(f"  {i:5}  {middle}  {ta / 1000:8.1f} µs  {tb / 1000:5.1f} µs  {tb / ta:5.3f}")
    ratio = statistics.median(mb / ma for ma, mb in medians)
    tail = statistics.median(tb / ta for ta, tb in tails)
    extra = statistics.median(mb - ma for ma, mb in medians) / 1000
    print(
        f"  median of rounds: median ratio {ratio:.3f}, p99 ratio {tail:.3f}, {extra:.1f} µs per request (goal ≤ 1.05)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["bench"],
        ROOT_URLCONF=__name__,
        SECRET_KEY="bench-only",  # noqa: S106 (signs nothing: no sessions, no forms)
        INSTALLED_APPS=[],
        LOGGING_CONFIG=None,
        REQUESTS_METRICS_SAMPLE_RATE=1.0,
    )
    django.setup()
    global urlpatterns
    urlpatterns = urlpatterns_make()
    compare("bare (the middleware alone)", handler_with([]), handler_with([METRICS]), args.requests, args.rounds)
    compare(
        "behind Django's common middleware",
        handler_with(COMMON),
        handler_with([COMMON[0], METRICS, *COMMON[1:]]),
        args.requests,
        args.rounds,
    )


urlpatterns: list = []

if __name__ == "__main__":
    main()
