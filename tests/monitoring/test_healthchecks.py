import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from werkzeug import Response

from monitoring.healthchecks.custom import Param
from monitoring.healthchecks.kinds import KINDS
from monitoring.healthchecks.runner import health_check_run, health_sweep
from monitoring.models import CheckKind, HealthCheck, HealthCheckResult
from monitoring.system_checks import custom_health_checks
from tests.monitoring.factories import HealthCheckFactory
from tests.support import free_port

pytestmark = pytest.mark.django_db(transaction=False)


def run(check):
    return health_check_run(check=check)


def test_http_check_healthy_with_status_and_body(httpserver):
    httpserver.expect_request("/up").respond_with_data("all systems go", status=200)
    check = HealthCheckFactory(kind=CheckKind.HTTP, config={"url": httpserver.url_for("/up"), "body_contains": "go"})
    result = run(check)
    assert result.status == "healthy", result.message
    assert result.latency_ms > 0
    check.refresh_from_db()
    assert check.last_status == "healthy" and check.last_checked_at is not None


def test_http_check_unhealthy_on_wrong_status_or_missing_body(httpserver):
    httpserver.expect_request("/down").respond_with_data("oops", status=500)
    httpserver.expect_request("/up").respond_with_data("hello", status=200)
    wrong = HealthCheckFactory(kind=CheckKind.HTTP, config={"url": httpserver.url_for("/down")})
    assert "status 500" in run(wrong).message
    assert wrong.last_status == "unhealthy"
    body = HealthCheckFactory(kind=CheckKind.HTTP, config={"url": httpserver.url_for("/up"), "body_contains": "bye"})
    assert run(body).status == "unhealthy"
    listed = HealthCheckFactory(
        kind=CheckKind.HTTP, config={"url": httpserver.url_for("/down"), "expected_status": [200, 500]}
    )
    assert run(listed).status == "healthy"


def test_http_check_reads_at_most_max_body_of_a_huge_answer(httpserver, monkeypatch):
    from monitoring.healthchecks import kinds

    monkeypatch.setattr(kinds, "MAX_BODY", 1000)
    httpserver.expect_request("/big").respond_with_data("x" * 5000 + "needle", status=200)
    httpserver.expect_request("/small").respond_with_data("x" * 500 + "needle", status=200)
    big = HealthCheckFactory(kind=CheckKind.HTTP, config={"url": httpserver.url_for("/big"), "body_contains": "needle"})
    small = HealthCheckFactory(
        kind=CheckKind.HTTP, config={"url": httpserver.url_for("/small"), "body_contains": "needle"}
    )
    assert run(big).status == "unhealthy"  # the needle lies beyond what is read
    assert run(small).status == "healthy"


def test_http_check_follows_redirects_only_when_asked(httpserver):
    httpserver.expect_request("/old").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_data("here", status=200)
    strict = HealthCheckFactory(kind=CheckKind.HTTP, config={"url": httpserver.url_for("/old")})
    assert "status 302" in run(strict).message
    follow = HealthCheckFactory(
        kind=CheckKind.HTTP, config={"url": httpserver.url_for("/old"), "follow_redirects": True}
    )
    assert run(follow).status == "healthy"


def test_http_check_times_out(httpserver):
    def slow(request):
        time.sleep(1.0)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    check = HealthCheckFactory(kind=CheckKind.HTTP, config={"url": httpserver.url_for("/slow")}, timeout_seconds=0.2)
    started = time.perf_counter()
    result = run(check)
    assert result.status == "unhealthy" and "no answer within" in result.message
    assert time.perf_counter() - started < 0.9


def test_http_check_degraded_when_slower_than_degraded_ms(httpserver):
    def slowish(request):
        time.sleep(0.05)
        return Response("ok")

    httpserver.expect_request("/slowish").respond_with_handler(slowish)
    check = HealthCheckFactory(kind=CheckKind.HTTP, config={"url": httpserver.url_for("/slowish"), "degraded_ms": 1})
    assert run(check).status == "degraded"


def test_tcp_check_against_a_listening_and_a_closed_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        open_check = HealthCheckFactory(kind=CheckKind.TCP, config={"host": "127.0.0.1", "port": port})
        assert run(open_check).status == "healthy"
    closed = HealthCheckFactory(kind=CheckKind.TCP, config={"host": "127.0.0.1", "port": free_port()})
    result = run(closed)
    assert result.status == "unhealthy" and "refused" in result.message


def test_database_check_measures_a_round_trip():
    result = run(HealthCheckFactory(kind=CheckKind.DATABASE, config={}))
    assert result.status == "healthy", result.message
    assert result.latency_ms is not None and "answered" in result.message
    degraded = HealthCheckFactory(kind=CheckKind.DATABASE, config={"degraded_ms": 0.000001})
    assert run(degraded).status == "degraded"


def test_system_check_thresholds():
    relaxed = HealthCheckFactory(
        kind=CheckKind.SYSTEM, config={"memory_percent": [100, 100], "disk_percent": [100, 100]}
    )
    assert run(relaxed).status == "healthy"
    strict = HealthCheckFactory(kind=CheckKind.SYSTEM, config={"cpu_percent": [0, 0]})
    result = run(strict)
    assert result.status == "unhealthy" and "cpu_percent" in result.message


def test_custom_check_results_exceptions_and_timeouts(custom_checks):
    ok = HealthCheckFactory(
        kind=CheckKind.CUSTOM, config={"name": "answers", "params": {"status": "degraded", "message": "slow"}}
    )
    assert (run(ok).status, run(ok).message) == ("degraded", "slow")
    defaults = HealthCheckFactory(kind=CheckKind.CUSTOM, config={"name": "answers"})
    assert (run(defaults).status, run(defaults).message) == ("healthy", "fine")
    broken = HealthCheckFactory(kind=CheckKind.CUSTOM, config={"name": "raises"})
    assert run(broken).message == "RuntimeError: queue is wedged"
    hung = HealthCheckFactory(
        kind=CheckKind.CUSTOM, config={"name": "hangs", "params": {"seconds": 3}}, timeout_seconds=0.2
    )
    started = time.perf_counter()
    result = run(hung)
    assert result.status == "unhealthy" and "timed out" in result.message
    assert time.perf_counter() - started < 2


def test_custom_check_whose_registration_went_away_is_not_run(custom_checks, settings):
    check = HealthCheckFactory(kind=CheckKind.CUSTOM, config={"name": "hangs", "params": {"seconds": 0}})
    settings.HEALTH_CUSTOM_CHECKS = {"answers": custom_checks["answers"]}
    result = run(check)
    assert result.status == "unhealthy"
    assert result.message == "not run: config.name: is not a registered custom check; available: answers"


def test_custom_params_are_checked_again_before_each_run(custom_checks):
    # Written around validation (a shell, an old row): the callable never sees the bad value.
    check = HealthCheckFactory(kind=CheckKind.CUSTOM, config={"name": "hangs", "params": {"seconds": 10**9}})
    started = time.perf_counter()
    result = run(check)
    assert result.status == "unhealthy" and "config.params.seconds: must be between 0 and 10" in result.message
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    ("config", "errors"),
    [
        ({"name": "nope"}, {"name": "is not a registered custom check; available: answers, hangs, raises"}),
        ({}, {"name": "is required; available: answers, hangs, raises"}),
        ({"name": "hangs", "params": {"seconds": 11}}, {"params.seconds": "must be between 0 and 10"}),
        ({"name": "hangs", "params": {"seconds": "5"}}, {"params.seconds": "must be a number"}),
        ({"name": "hangs", "params": {"sleep": 1}}, {"params.sleep": "must be true or false"}),
        (
            {"name": "answers", "params": {"status": "fine"}},
            {"params.status": "must be one of healthy, degraded, unhealthy"},
        ),
        ({"name": "answers", "params": {"message": "x" * 101}}, {"params.message": "must be at most 100 characters"}),
        ({"name": "raises", "params": {"x": 1}}, {"params.x": "is not a parameter of this check (accepted: none)"}),
        ({"name": "raises", "params": []}, {"params": "must be an object"}),
    ],
)
def test_custom_config_validation_names_the_field(custom_checks, config, errors):
    assert KINDS[CheckKind.CUSTOM].validate(config) == errors


def test_custom_check_parameters_must_be_declared_with_bounds():
    with pytest.raises(TypeError, match="min and max"):
        Param(int, default=1)
    with pytest.raises(TypeError, match="int, float, str or bool"):
        Param(list)
    assert Param(int, min=0, max=5).clean(3.0) == 3 and isinstance(Param(int, min=0, max=5).clean(3.0), int)
    with pytest.raises(ValueError, match="integer"):
        Param(int, min=0, max=5).clean(2.5)
    with pytest.raises(ValueError, match="finite"):
        Param(float, min=0, max=5).clean(float("nan"))


def test_registry_problems_are_system_check_errors(settings):
    settings.HEALTH_CUSTOM_CHECKS = {
        "fine": "tests.monitoring.custom_checks.answers",
        "missing": "tests.monitoring.custom_checks.nope",
        "module": "tests.monitoring.custom_checks.REGISTRY",
    }
    errors = custom_health_checks(None)
    assert [e.id for e in errors] == ["monitoring.E001", "monitoring.E001"]
    assert "'missing': is registered as tests.monitoring.custom_checks.nope, which cannot be imported" in errors[0].msg
    assert "which is not callable" in errors[1].msg


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        (CheckKind.HTTP, {"url": "ftp://x"}, "url"),
        (CheckKind.HTTP, {"url": "http://x", "expected_status": 999}, "expected_status"),
        (CheckKind.HTTP, {"url": "http://x", "verify_tls": "no"}, "verify_tls"),
        (CheckKind.TCP, {"host": "x", "port": 70000}, "port"),
        (CheckKind.SYSTEM, {"cpu_percent": [90, 80]}, "cpu_percent"),
        (CheckKind.CUSTOM, {"path": "no.such.thing"}, "path"),
        (CheckKind.DATABASE, {"degraded_ms": 10**12}, "degraded_ms"),
        (CheckKind.DATABASE, {"alias": "nope"}, "alias"),
    ],
)
def test_config_validation_names_the_field(kind, config, field):
    assert field in KINDS[kind].validate(config)


T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def heartbeat(**fields):
    return HealthCheckFactory(kind=CheckKind.HEARTBEAT, created_at=T0, **fields)


def status_at(check, moment):
    with time_machine.travel(moment, tick=False):
        result = health_check_run(check=check)
    return result.status


def test_heartbeat_period_and_grace_under_a_frozen_clock(client):
    check = heartbeat(period_seconds=3600, grace_seconds=300)
    assert status_at(check, T0 + timedelta(minutes=30)) == "healthy"
    assert status_at(check, T0 + timedelta(minutes=62)) == "degraded"  # late, within grace
    assert status_at(check, T0 + timedelta(minutes=65)) == "degraded"  # grace ends exactly here
    assert status_at(check, T0 + timedelta(minutes=65, seconds=1)) == "unhealthy"
    with time_machine.travel(T0 + timedelta(minutes=70), tick=False):
        assert client.post(f"/ping/{check.uuid}").status_code == 200
    check.refresh_from_db()
    assert check.last_status == "healthy"
    assert status_at(check, T0 + timedelta(minutes=70 + 60)) == "healthy"
    assert status_at(check, T0 + timedelta(minutes=70 + 61)) == "degraded"


def test_heartbeat_with_a_cron_period(client):
    check = heartbeat(cron="0 3 * * *", grace_seconds=600)  # daily at 03:00 UTC
    with time_machine.travel(T0, tick=False):
        client.get(f"/ping/{check.uuid}")
    check.refresh_from_db()
    assert status_at(check, datetime(2026, 3, 3, 2, 59, tzinfo=UTC)) == "healthy"
    assert status_at(check, datetime(2026, 3, 3, 3, 5, tzinfo=UTC)) == "degraded"
    assert status_at(check, datetime(2026, 3, 3, 3, 11, tzinfo=UTC)) == "unhealthy"


def test_heartbeat_start_and_fail_pings(client):
    check = heartbeat(period_seconds=3600, grace_seconds=120)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert client.get(f"/ping/{check.uuid}/start").status_code == 200
    check.refresh_from_db()
    assert check.last_status == "healthy" and "running since" in check.last_message
    assert status_at(check, T0 + timedelta(minutes=8)) == "unhealthy"  # started, no finish in grace
    with time_machine.travel(T0 + timedelta(minutes=9), tick=False):
        client.post(f"/ping/{check.uuid}/fail", data="disk full", content_type="text/plain")
    check.refresh_from_db()
    assert check.last_status == "unhealthy" and "failure" in check.last_message
    assert check.pings.first().body == "disk full"
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        client.get(f"/ping/{check.uuid}")
    check.refresh_from_db()
    assert check.last_status == "healthy"


def test_ping_of_unknown_or_non_heartbeat_check_is_404(client):
    other = HealthCheckFactory(kind=CheckKind.DATABASE)
    assert client.get(f"/ping/{other.uuid}").status_code == 404
    assert client.get("/ping/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/ping/not-a-uuid").status_code == 404


def test_sweep_claims_due_checks_once(monkeypatch, django_assert_max_num_queries):
    queued = []
    monkeypatch.setattr("monitoring.healthchecks.runner.async_task", lambda *args, **kw: queued.append(args))
    beats = [heartbeat(period_seconds=60) for _ in range(5)]
    tcp = HealthCheckFactory(kind=CheckKind.TCP, config={"host": "127.0.0.1", "port": 1}, interval_seconds=120)
    HealthCheckFactory(kind=CheckKind.TCP, config={"host": "127.0.0.1", "port": 1}, enabled=False)
    now = T0 + timedelta(minutes=1)
    # One select, one claim per due check, one result + check update (in a savepoint) per heartbeat.
    with django_assert_max_num_queries(1 + 6 + 5 * 4):
        outcome = health_sweep(now=now)
    assert outcome == {"queued": 1, "evaluated": 5}
    assert queued == [("monitoring.tasks.health_check_run", tcp.pk)]
    assert HealthCheckResult.objects.count() == 5
    assert health_sweep(now=now) == {"queued": 0, "evaluated": 0}  # nothing is due twice
    tcp.refresh_from_db()
    assert tcp.next_run_at == now + timedelta(seconds=120)
    assert {b.pk for b in beats} == set(
        HealthCheck.objects.filter(next_run_at=now + timedelta(minutes=1)).values_list("pk", flat=True)
    )
