"""Where one Sentry envelope request spends its CPU, in one process, through the whole handler.

The envelopes bench/error_ingest.py sends (one event, ~30 frames, gzip) are posted, DEBUG off, on a
throwaway SQLite database, after a warm-up, either to `portal.wsgi.application` as a WSGI server
calls it (`--through wsgi`, the default: what gunicorn serves, the ingest fast path) or through
Django's test client (`--through client`: the views and the whole middleware stack; the test
client keeps the database connection open between requests, which a server does only with
CONN_MAX_AGE). Prints the CPU time per request with and without the profiler (side by side), the
queries of one request, then the cProfile of the measured requests sorted by cumulative and by
own time. No task worker runs, so nothing drains meanwhile.

    .venv/bin/python bench/error_ingest_profile.py                 # 50 warm-up, 500 measured
    .venv/bin/python bench/error_ingest_profile.py --requests 200 --top 40 --through client
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from error_ingest import envelope_bytes, make_event, prepare  # noqa: E402 (after sys.path)
from throwaway_db import throwaway_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="measured requests (default 500, max 5,000)")
    parser.add_argument("--warmup", type=int, default=50, help="requests before measuring (default 50, max 5,000)")
    parser.add_argument("--top", type=int, default=30, help="rows of each profile table (default 30)")
    parser.add_argument("--through", choices=("wsgi", "client"), default="wsgi", help="see above (default wsgi)")
    args = parser.parse_args()
    if not 1 <= args.requests <= 5000 or not 1 <= args.warmup <= 5000:
        parser.error("--requests and --warmup must be between 1 and 5,000")
    throwaway_database("error_ingest_profile", None)
    os.environ.update(DEBUG="false", SECRET_KEY="profile-" + "x" * 40, ALLOWED_HOSTS="testserver")
    os.environ.update(METRICS_FLUSH_ENABLED="false", SECURE_SSL_REDIRECT="false", LOG_LEVEL="WARNING")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    setup = prepare([])
    client = Client()
    headers = {
        "content_type": "application/x-sentry-envelope",
        "HTTP_CONTENT_ENCODING": "gzip",
        "HTTP_X_SENTRY_AUTH": f"Sentry sentry_key={setup['key']}, sentry_version=7, sentry_client=sentry.python/2.75.0",
    }
    path = f"/api/{setup['project']}/envelope/"
    if args.through == "wsgi":
        from portal.wsgi import application

        def post(body: bytes) -> int:
            environ = {
                "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "testserver",
                "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "testserver",
                "CONTENT_TYPE": "application/x-sentry-envelope", "CONTENT_LENGTH": str(len(body)),
                "HTTP_CONTENT_ENCODING": "gzip", "HTTP_X_SENTRY_AUTH": headers["HTTP_X_SENTRY_AUTH"],
                "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            }  # fmt: skip
            status = []
            b"".join(application(environ, lambda line, _headers: status.append(int(line.split()[0]))))
            return status[0]
    else:

        def post(body: bytes) -> int:
            return client.post(path, body, **headers).status_code

    bodies = [envelope_bytes(make_event(seq, 300, 30)) for seq in range(args.warmup + 1 + 2 * args.requests)]
    for body in bodies[: args.warmup]:
        assert post(body) == 200
    queries = []  # the request resets connection.queries, so they are caught as they run

    def catch(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(catch):
        assert post(bodies[args.warmup]) == 200
    plain, profiled = bodies[args.warmup + 1 :][: args.requests], bodies[args.warmup + 1 :][args.requests :]
    cpu = time.process_time()
    for body in plain:
        post(body)
    plain_ms = (time.process_time() - cpu) / args.requests * 1000
    profile = cProfile.Profile()
    cpu = time.process_time()
    profile.enable()
    for body in profiled:
        post(body)
    profile.disable()
    profiled_ms = (time.process_time() - cpu) / args.requests * 1000
    print(
        f"{args.requests} envelopes (one event, 30 frames, gzip) after {args.warmup} warm-up requests, in-process, "
        f"through {'portal.wsgi.application' if args.through == 'wsgi' else 'the test client'}"
    )
    slower = profiled_ms / plain_ms
    print(f"  CPU per request: {plain_ms:.2f} ms  (under cProfile: {profiled_ms:.2f} ms, {slower:.1f}x)")
    print(f"  2 processes at that cost, at most: {2000 / plain_ms:.0f} envelopes/s (goal 1,000)")
    print(f"  queries of one request: {len(queries)}")
    for sql in queries:
        print(f"    {sql[:110]}")
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
