"""`portal_setup --demo`: a week of the demo shop's history, consistent with the jobs that run
after it, and the live samples that follow."""

import time
from datetime import timedelta
from io import StringIO

import numpy as np
import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone
from django_q.models import Schedule

import portal.demo.codehealth
from codehealth.models import CodeRepository, CodeScan
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.models import Alert, AlertEvent, AlertRule, AlertStatus, RuleState
from monitoring.models import (
    HealthCheck,
    HealthCheckResult,
    HeartbeatPing,
    HourRollup,
    Metric,
    MetricSample,
    MinuteRollup,
    RollupState,
)
from monitoring.query import floor_hour, floor_minute, rollup_watermark, series_query
from monitoring.rollups import rollup_run
from portal.demo.install import LIVE_SCHEDULE
from portal.demo.metrics import history_write
from portal.demo.service import DEMO_SLUG
from portal.demo.tasks import live_samples
from portal.demo.traffic import CHECKOUT, DURATION, REQUESTS, Scenario
from portal.models import Service
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
TABLES = (
    Service,
    MetricSample,
    MinuteRollup,
    HourRollup,
    Metric,
    HealthCheck,
    HealthCheckResult,
    HeartbeatPing,
    AlertRule,
    Alert,
    AlertEvent,
    RuleState,
    CodeScan,
    Schedule,
)


@pytest.fixture(scope="module")
def installed(django_db_setup, django_db_blocker, tmp_path_factory):
    """One demo install for the whole module (it takes seconds), rolled back at the end; each
    test runs in a savepoint inside it. The demo's custom checks are registered (as with DEBUG
    on) and the code-health history is kept small: a sub-directory and three commits."""
    from django.conf import settings

    overrides = override_settings(
        HEALTH_CUSTOM_CHECKS=dict(settings.DEMO_CUSTOM_CHECKS),
        BASE_DIR=settings.BASE_DIR / "codehealth",
        VAR_DIR=tmp_path_factory.mktemp("var"),
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    with django_db_blocker.unblock(), overrides, pytest.MonkeyPatch.context() as patch:
        patch.setattr(portal.demo.codehealth, "HISTORY_COMMITS", 3)
        with transaction.atomic():
            started = time.perf_counter()
            output = run_setup("--demo")
            yield {"output": output, "seconds": time.perf_counter() - started}
            transaction.set_rollback(True)


@pytest.fixture
def demo(installed, db):
    return Service.objects.get(slug=DEMO_SLUG)


@pytest.fixture
def viewer(demo):
    client = Client()
    client.force_login(UserFactory(username="demo-viewer", role="viewer"))
    return client


def run_setup(*args) -> str:
    out = StringIO()
    call_command("portal_setup", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    found = {model.__name__: model.objects.count() for model in TABLES}
    # The monitoring hook's demo collects the host's metrics at every run: only ours must not grow.
    found["MetricSample"] = MetricSample.objects.filter(service__slug=DEMO_SLUG).count()
    return found


def test_running_demo_twice_adds_nothing(demo):
    first = counts()
    assert first["HourRollup"] > 1000 and first["MinuteRollup"] > 1000 and first["MetricSample"] > 1000
    assert first["Alert"] >= 8 and first["HeartbeatPing"] > 100
    assert 5 <= first["HealthCheckResult"] < 100  # status changes, not a row per run
    output = run_setup("--demo")
    assert counts() == first
    assert "demo metrics: unchanged" in output


def test_the_history_takes_a_bounded_number_of_queries(db, django_assert_max_num_queries):
    service = Service.objects.create(name="Shop", slug="shop")
    now = timezone.now()
    started = time.perf_counter()
    with django_assert_max_num_queries(60):  # bulk inserts: about 40 rows per statement or more
        written = history_write(service=service, now=now, scenario=Scenario.around(now), rng=np.random.default_rng(8))
    assert written["minute rollups"] > 10_000
    assert time.perf_counter() - started < 30  # about 2 s on a quiet laptop; generous for CI


def test_every_page_shows_the_demo(demo, viewer):
    client = viewer
    home = client.get("/").content.decode()
    assert "Payment webhooks failing" in home and "Email queue stuck" in home
    assert 'href="/monitoring/services/demo-shop/"' in home
    assert "Search index" in home and "Payment provider" in home  # degraded checks

    assert "Demo shop" in client.get("/monitoring/").content.decode()
    service_page = client.get("/monitoring/services/demo-shop/?range=7d").content.decode()
    for name in (REQUESTS, DURATION, "shop_queue_depth"):
        assert f"/monitoring/charts/demo-shop/{name}/" in service_page
    health = client.get("/monitoring/health/").content.decode()
    assert all(name in health for name in ("Shop API", "Cache warmer", "Nightly order export"))
    shop_api = HealthCheck.objects.get(service=demo, name="Shop API")
    detail = client.get(f"/monitoring/health/{shop_api.pk}/").content.decode()
    assert "HTTP 503" in detail or "HTTP 200" in detail
    latency = client.get(f"/monitoring/health/{shop_api.pk}/latency.json").json()
    assert sum(v is not None for v in latency["datasets"][0]["data"]) > 100  # a day of 10-minute steps

    open_alerts = client.get("/alerts/").content.decode()
    assert "Payment webhooks failing" in open_alerts and "Search p95 at 1.9 s" in open_alerts
    incident = Alert.objects.get(rule__name="Demo shop: checkout p95 above 1.5 s")
    assert "Checkout p95 at 2.3 s" in client.get("/alerts/?status=resolved").content.decode()
    page = client.get(f"/alerts/{incident.pk}/").content.decode()
    assert "Checkout p95 at 2.3 s" in page and "Same cause as the checkout errors" in page

    assert "operations-portal" in client.get("/codehealth/").content.decode()
    repository = CodeRepository.objects.get(name="operations-portal")
    overview = client.get(f"/codehealth/{repository.pk}/")
    assert overview.status_code == 200 and "No finished scan yet" not in overview.content.decode()
    trend = client.get(f"/codehealth/{repository.pk}/chart/quality/").json()
    assert len(trend["labels"]) == 3 and any(v is not None for v in trend["datasets"][0]["data"])


@pytest.mark.parametrize("window", ["1h", "24h", "7d"])
def test_every_chart_has_data_over_its_whole_range(viewer, window):
    for name, agg in [(REQUESTS, "rate"), (DURATION, "p95"), ("shop_queue_depth", "avg")]:
        chart = viewer.get(f"/monitoring/charts/demo-shop/{name}/?range={window}&agg={agg}").json()
        assert chart["datasets"], name
        busiest = max(chart["datasets"], key=lambda d: sum(v is not None for v in d["data"]))
        filled = sum(v is not None for v in busiest["data"])
        assert filled >= len(busiest["data"]) - 1, (name, busiest)  # the newest step may be still empty


def test_the_incident_is_in_the_week_and_the_rest_is_calm(demo):
    scenario, now = Scenario.around(timezone.now()), timezone.now()
    series = series_query(
        name=DURATION, since=now - timedelta(days=7), until=now, step=3600, agg="p95", service_id=demo.pk,
        labels={"route": CHECKOUT, "status_class": "2xx"},
    )  # fmt: skip
    (checkout,) = series
    during = [
        v for t, v in checkout.points if scenario.incident_start + timedelta(minutes=30) <= t < scenario.incident_end
    ]
    calm = [v for t, v in checkout.points if v is not None and not (scenario.incident_start - timedelta(hours=1) <= t
            < scenario.incident_end)]  # fmt: skip
    assert min(during) > 1.5
    assert max(calm) < 1.5


def request_totals(service, now) -> list[float]:
    """Requests over the week (hour steps: hour rollups) and the day (10-minute steps: minutes)."""
    found = [
        series_query(name=REQUESTS, since=now - window, until=now, step=step, agg="sum", service_id=service.pk)
        for window, step in ((timedelta(days=7), 3600), (timedelta(hours=24), 600))
    ]
    return [sum(v or 0 for series in each for _, v in series.points) for each in found]


def test_installing_into_a_portal_whose_rollups_are_current(demo):
    """Rollups already run up to a few minutes ago: the raw samples written before that mark
    their minutes for a redo (the late-sample path), and the redo changes no total."""
    now = timezone.now()
    current = floor_minute(now) - timedelta(minutes=3)
    RollupState.objects.update(rolled_until=current, claimed_until=current, dirty_since=None)
    shop = Service.objects.create(name="Shop", slug="shop")
    history_write(service=shop, now=now, scenario=Scenario.around(now), rng=np.random.default_rng(3))
    assert rollup_watermark() == floor_hour(now - timedelta(minutes=30))
    before = request_totals(shop, now)
    assert before[0] > before[1] > 0
    while rollup_run(now=now)["minutes"]:
        pass
    assert rollup_watermark() >= current
    assert request_totals(shop, now) == before


def test_the_jobs_that_run_next_agree_with_the_history(demo):
    """The rollup job rolls the raw samples from the boundary on without changing any total,
    and the evaluator keeps the open alerts open and the resolved ones resolved."""
    now = timezone.now()
    before = request_totals(demo, now)
    assert RollupState.objects.get().rolled_until < now - timedelta(minutes=29)
    assert rollup_run(now=now)["rows"] > 0
    assert request_totals(demo, now) == before
    statuses = dict(Alert.objects.values_list("pk", "status"))
    report = rules_evaluate(now=now)
    assert not report.errors
    assert dict(Alert.objects.values_list("pk", "status")) == statuses
    assert sorted(statuses.values()).count(AlertStatus.FIRING) == 2
    assert sorted(statuses.values()).count(AlertStatus.ACKNOWLEDGED) == 2
    assert sorted(statuses.values()).count(AlertStatus.RESOLVED) >= 4


def test_alert_timelines_are_real_events(demo):
    incident = Alert.objects.get(rule__name="Demo shop: checkout errors")
    kinds = list(incident.events.values_list("kind", flat=True))
    assert kinds == ["triggered", "escalated", "acknowledged", "commented", "resolved", "commented"]
    assert incident.acknowledged_by.username == "sam" and incident.resolved_by.username == "sam"
    firing = Alert.objects.get(rule__name="Demo shop: payment webhooks failing")
    assert list(firing.events.values_list("kind", flat=True)) == ["triggered", "escalated", "escalated"]
    assert firing.next_escalation_at is None  # both steps ran; the policy does not repeat


def test_live_samples_continue_the_history(demo):
    samples = MetricSample.objects.filter(service=demo)
    end_of_history = samples.order_by("-time").values_list("time", flat=True).first()
    later = timezone.now() + timedelta(minutes=2)
    with time_machine.travel(later, tick=False):
        assert live_samples()["samples"] > 0
        assert live_samples()["samples"] == 0  # run twice in a minute: nothing twice
    first_live = samples.filter(time__gt=end_of_history).order_by("time").values_list("time", flat=True).first()
    assert first_live - end_of_history < timedelta(seconds=20)  # the next flush slot: no gap
    assert samples.order_by("-time").values_list("time", flat=True).first() < later


def test_the_install_is_quick_enough(installed):
    # About 3 s on a quiet laptop (most of it the week of metrics); generous for a busy CI box.
    assert installed["seconds"] < 60, installed


def test_the_demo_schedule_runs_the_live_task(demo):
    row = Schedule.objects.get(name=LIVE_SCHEDULE.name)
    assert (row.func, row.minutes) == ("portal.demo.tasks.live_samples", 1)
