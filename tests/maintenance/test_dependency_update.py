"""The dependency_update executor against real virtual environments (tests/maintenance/conftest.py):
tiny wheels at several versions installed with no index, plan → apply → verify → health checks
→ health gate, and exact rollback."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework import serializers

from maintenance.executors.base import FAILED, ROLLED_BACK, SUCCEEDED, Plan, Target, config_validate
from maintenance.executors.dependency_update import DependencyUpdate, bump_kind
from maintenance.health_gate import RULE_NAME, WindowFigures, gate_judge, service_window
from maintenance.pip_env import Outdated
from monitoring.alerting.models import Alert
from monitoring.ingest import metrics_ingest
from monitoring.models import HealthCheck
from monitoring.requests import REQUEST_DURATION
from tests.maintenance.envs import run_context

KIND = "dependency_update"


def _target(env, **overrides) -> Target:
    values = {"name": "shop", "python": env.python, "project_dir": str(env.project), "package_manager": "pip"}
    values.update(overrides)
    return Target(**values)


ALPHA_1_1 = Plan("tinyalpha", [{"name": "tinyalpha", "from": "1.0", "to": "1.1", "kind": "minor"}])
BETA_PATCH = Plan("tinybeta", [{"name": "tinybeta", "from": "1.0", "to": "1.0.1", "kind": "patch"}])


@pytest.fixture
def index_stub(monkeypatch):
    """What pip says of the wheelhouse (test_plan_lists_the_newest_version_the_policy_allows
    checks it against the real pip), for the tests of the plan's filters: pip costs seconds a call."""
    module = "maintenance.executors.dependency_update"
    rows = [Outdated("tinyalpha", "1.0", "2.0"), Outdated("tinybeta", "1.0", "1.0.1")]
    versions = {"tinyalpha": ["2.0", "1.1", "1.0"], "tinybeta": ["1.0.1", "1.0"]}
    monkeypatch.setattr(f"{module}.outdated", lambda ctx, timeout: rows)
    monkeypatch.setattr(f"{module}.available_versions", lambda ctx, name, timeout: versions[name])


def _plan(env, config=None, **target):
    ctx, lines = run_context(_target(env, **target), config_validate(KIND, config or {}))
    return DependencyUpdate().plan(ctx), ctx, lines


def test_plan_lists_the_newest_version_the_policy_allows(readonly_venv):
    plan, _, lines = _plan(readonly_venv)
    # tinyalpha 2.0 is a major bump: the default policy (minor) picks 1.1 from the index's versions.
    assert plan.items == [
        {"name": "tinyalpha", "from": "1.0", "to": "1.1", "kind": "minor"},
        {"name": "tinybeta", "from": "1.0", "to": "1.0.1", "kind": "patch"},
    ]
    assert "tinyalpha 1.0 → 1.1" in plan.summary
    assert any("list --outdated --format=json" in line for line in lines)


def test_policies_deny_and_allow_lists(readonly_venv, index_stub):
    major, _, _ = _plan(readonly_venv, {"policy": "major"})
    assert [(i["name"], i["to"]) for i in major.items] == [("tinyalpha", "2.0"), ("tinybeta", "1.0.1")]
    patch, _, _ = _plan(readonly_venv, {"policy": "patch"})
    assert [i["name"] for i in patch.items] == ["tinybeta"]
    assert "tinyalpha: 2.0 is a major update (policy patch)" in patch.summary
    denied, _, _ = _plan(readonly_venv, {"deny": ["TinyBeta"]})
    assert [i["name"] for i in denied.items] == ["tinyalpha"] and "tinybeta: denied" in denied.summary
    allowed, _, _ = _plan(readonly_venv, {"allow": ["tinybeta"]})
    assert [i["name"] for i in allowed.items] == ["tinybeta"]


def test_a_group_waits_for_its_held_back_member(readonly_venv, index_stub):
    plan, _, _ = _plan(readonly_venv, {"policy": "patch", "groups": [["tinyalpha", "tinybeta"]]})
    assert plan.items == []
    assert "tinybeta: its group waits for tinyalpha" in plan.summary
    together, _, _ = _plan(readonly_venv, {"groups": [["tinyalpha", "tinybeta"]]})
    assert all(i["group"] == ["tinyalpha", "tinybeta"] for i in together.items)


def test_release_age_comes_from_the_index_json_api(readonly_venv, httpserver, index_stub):
    now = datetime.now(UTC)

    def page(name, uploads):
        files = [
            {"filename": f"{name}-{v}-py3-none-any.whl", "upload-time": (now - timedelta(days=d)).isoformat()}
            for v, d in uploads
        ]
        httpserver.expect_request(f"/simple/{name}/").respond_with_json(
            {"meta": {"api-version": "1.1"}, "name": name, "files": files},
            content_type="application/vnd.pypi.simple.v1+json",
        )

    page("tinyalpha", [("1.0", 400), ("1.1", 30), ("2.0", 1)])
    page("tinybeta", [("1.0", 400), ("1.0.1", 2)])
    config = {"min_release_age_days": 7, "index_url": httpserver.url_for("/simple/"), "policy": "major"}
    plan, _, _ = _plan(readonly_venv, config)
    # 2.0 is too young, 1.1 old enough; tinybeta's only newer version is too young.
    assert [(i["name"], i["to"]) for i in plan.items] == [("tinyalpha", "1.1")]
    assert "tinybeta: 1.0.1 is younger than 7 days" in plan.summary
    unknown, _, _ = _plan(readonly_venv, {"min_release_age_days": 7})
    assert unknown.items == [] and "release age unknown" in unknown.summary


def test_apply_upgrades_and_runs_the_verification_in_the_target_environment(target_venv, monkeypatch):
    # The portal's own settings stay out of the target's commands (its tests might read them).
    monkeypatch.setenv("DATABASE_URL", "postgres://portal-secret@db/portal")
    check = (
        "import os, tinyalpha, tinyextra; assert tinyalpha.__version__ == '1.1'; "
        "assert 'DATABASE_URL' not in os.environ; assert os.environ['VIRTUAL_ENV']"
    )
    target = _target(target_venv, verify_command=("python", "-c", check))
    ctx, lines = run_context(target, config_validate(KIND, {}))
    executor = DependencyUpdate()
    outcome = executor.apply(ctx, executor.plan(ctx))
    assert outcome.status == SUCCEEDED, lines
    assert outcome.changes["packages"] == [
        {"name": "tinyalpha", "from": "1.0", "to": "1.1"},
        {"name": "tinybeta", "from": "1.0", "to": "1.0.1"},
        {"name": "tinyextra", "from": None, "to": "1.0"},  # a new dependency of tinyalpha 1.1
    ]
    assert target_venv.version("tinyalpha") == "1.1" and target_venv.version("tinybeta") == "1.0.1"


def test_a_failing_verification_restores_exactly_the_previous_freeze(target_venv):
    before = target_venv.freeze()
    target = _target(target_venv, verify_command=("python", "-c", "raise SystemExit('tests failed')"))
    ctx, lines = run_context(target, config_validate(KIND, {}))
    executor = DependencyUpdate()
    outcome = executor.apply(ctx, ALPHA_1_1)
    assert outcome.status == ROLLED_BACK
    assert "verification command" in outcome.summary
    assert target_venv.freeze() == before  # tinyextra, added by the upgrade, is gone again
    assert target_venv.version("tinyalpha") == "1.0"
    assert any("pip uninstall" in line or "uninstall -y" in line for line in lines)


def test_an_unhealthy_health_check_rolls_back(target_venv, db, httpserver):
    httpserver.expect_request("/health").respond_with_data("down", status=503)
    check = HealthCheck.objects.create(name="shop up", kind="http", config={"url": httpserver.url_for("/health")})
    before = target_venv.freeze()
    target = _target(target_venv, health_check_ids=(check.pk,))
    ctx, _ = run_context(target, config_validate(KIND, {}))
    outcome = DependencyUpdate().apply(ctx, BETA_PATCH)
    assert outcome.status == ROLLED_BACK and "shop up is unhealthy" in outcome.summary
    assert target_venv.freeze() == before


def _requests(service, start: datetime, seconds: int, *, per_second: int, errors: int, duration: float):
    """Request samples like the middleware writes, spread over [start, start + seconds)."""
    items = []
    for second in range(seconds):
        for n in range(per_second):
            status = "5xx" if n < errors else "2xx"
            labels = {"route": "/checkout/", "method": "POST", "status_class": status}
            moment = (start + timedelta(seconds=second, milliseconds=10 * n)).isoformat()
            items.append(
                {"name": REQUEST_DURATION, "type": "timer", "value": duration, "labels": labels, "time": moment}
            )
    metrics_ingest(service=service, items=items)


class FakeTime:
    """The gate's clock and wait: waiting moves the clock and lets the test write what the
    service did meanwhile."""

    def __init__(self, start: datetime, during):
        self.now, self.during, self.waited = start, during, []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.waited.append(seconds)
        self.during(self.now, seconds)
        self.now += timedelta(seconds=seconds)


def _gated(env, service, during, config=None):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    _requests(service, start - timedelta(seconds=60), 60, per_second=2, errors=0, duration=0.05)
    fake = FakeTime(start, during)
    executor = DependencyUpdate()
    executor.clock, executor.sleep = fake.clock, fake.sleep
    settings = {"gate_watch_seconds": 60, "gate_min_requests": 20, **(config or {})}
    ctx, lines = run_context(_target(env, service_id=service.pk), config_validate(KIND, settings), seconds=600)
    return executor.apply(ctx, BETA_PATCH), fake, lines


def test_a_regression_in_the_service_error_rate_rolls_back_and_raises_an_alert(target_venv, service):
    before = target_venv.freeze()

    def broken(now, seconds):  # after the change, 1 request in 2 fails
        _requests(service, now, int(seconds), per_second=2, errors=1, duration=0.05)

    outcome, fake, _ = _gated(target_venv, service, broken)
    assert fake.waited == [60]
    assert outcome.status == ROLLED_BACK
    assert "error rate 0.00% → 50.00%" in outcome.summary
    gate = outcome.changes["health_gate"]
    assert gate["before"]["requests"] == 120 and gate["after"]["errors"] == 60
    assert target_venv.freeze() == before
    alert = Alert.objects.get(pk=outcome.changes["alert_id"])
    assert alert.rule.name == RULE_NAME and alert.service_id == service.pk and "rolled back" in alert.summary


def test_a_healthy_service_keeps_the_update(target_venv, service):
    def fine(now, seconds):
        _requests(service, now, int(seconds), per_second=2, errors=0, duration=0.055)

    outcome, _, lines = _gated(target_venv, service, fine)
    assert outcome.status == SUCCEEDED, lines
    assert outcome.changes["health_gate"]["judged"] and "no regression" in outcome.summary
    assert target_venv.version("tinybeta") == "1.0.1"
    assert not Alert.objects.exists()


def test_a_slower_p95_is_a_regression(service):
    # The rollback a regression causes is shown above with the error rate; here the p95 side,
    # from request samples through the same window read.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    middle = start + timedelta(seconds=30)
    _requests(service, start, 30, per_second=2, errors=0, duration=0.05)
    _requests(service, middle, 30, per_second=2, errors=0, duration=0.2)
    before = service_window(service_id=service.pk, since=start, until=middle)
    after = service_window(service_id=service.pk, since=middle, until=middle + timedelta(seconds=30))
    verdict = gate_judge(before, after, max_error_rate_increase=0.02, max_p95_ratio=1.5, min_requests=20)
    assert not verdict.passed and "p95 50.0 ms → 200." in verdict.reason
    assert gate_judge(before, after, max_error_rate_increase=0.02, max_p95_ratio=5, min_requests=20).passed


def test_a_deadline_shorter_than_the_gate_changes_nothing(target_venv, service):
    before = target_venv.freeze()
    ctx, _ = run_context(
        _target(target_venv, service_id=service.pk), config_validate(KIND, {"gate_watch_seconds": 3600}), seconds=120
    )
    outcome = DependencyUpdate().apply(ctx, BETA_PATCH)
    assert outcome.status == FAILED and "deadline" in outcome.summary
    assert target_venv.freeze() == before


def test_gate_judge_needs_enough_requests_on_both_sides():
    quiet = WindowFigures(requests=3, errors=3, p95=1.0)
    busy = WindowFigures(requests=100, errors=0, p95=0.1)
    verdict = gate_judge(busy, quiet, max_error_rate_increase=0.02, max_p95_ratio=1.5, min_requests=50)
    assert verdict.passed and not verdict.judged and "not judged" in verdict.reason
    failing = WindowFigures(requests=100, errors=5, p95=0.1)
    assert not gate_judge(busy, failing, max_error_rate_increase=0.02, max_p95_ratio=1.5, min_requests=50).passed
    assert gate_judge(busy, failing, max_error_rate_increase=0.05, max_p95_ratio=1.5, min_requests=50).passed


def test_service_window_is_exact_to_the_second(service, django_assert_max_num_queries):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    middle = start + timedelta(seconds=10)
    _requests(service, start, 10, per_second=1, errors=0, duration=0.01)
    _requests(service, middle, 10, per_second=1, errors=1, duration=0.5)
    with django_assert_max_num_queries(3):  # counts, label sets, durations: whatever the traffic
        first = service_window(service_id=service.pk, since=start, until=middle)
    second = service_window(service_id=service.pk, since=middle, until=middle + timedelta(seconds=10))
    assert (first.requests, first.errors) == (10, 0) and (second.requests, second.errors) == (10, 10)
    assert first.p95 == pytest.approx(0.01, rel=0.02) and second.p95 == pytest.approx(0.5, rel=0.02)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"policy": "huge"}, "policy"),
        ({"gate_watch_seconds": 36000}, "gate_watch_seconds"),
        ({"gate_max_p95_ratio": 0.5}, "gate_max_p95_ratio"),
        ({"deny": ["not a name!"]}, "deny"),
        ({"groups": [["a", "b"], ["B", "c"]]}, "groups"),
        ({"min_release_age_days": 1000}, "min_release_age_days"),
    ],
)
def test_config_errors_name_the_field(config, field):
    with pytest.raises(serializers.ValidationError) as caught:
        config_validate(KIND, config)
    assert field in caught.value.detail


def test_bump_kind():
    assert bump_kind("1.0", "1.0.1") == "patch"
    assert bump_kind("1.0", "1.1") == "minor"
    assert bump_kind("1.9", "2.0") == "major"


def test_a_restart_command_that_cannot_start_rolls_back(target_venv, tmp_path):
    before = target_venv.freeze()
    config = config_validate(KIND, {"restart_command": [str(tmp_path / "no-such-restart")]})
    ctx, _ = run_context(_target(target_venv), config)
    outcome = DependencyUpdate().apply(ctx, BETA_PATCH)
    assert outcome.status == ROLLED_BACK and "restart command" in outcome.summary
    assert target_venv.freeze() == before
