"""One object of every kind the URL conf and the API look up, for the tests that visit every
route (the role matrix, the schema fuzzing): each URL kwarg and path parameter has something
real behind it, so a request reaches the view's own code instead of stopping at a 404."""

import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from rest_framework.authtoken.models import Token

from codehealth.models import CodeRepository, DebtItem, FileMetrics, FunctionMetrics, QualityGate
from codehealth.scanning import scan_create, scan_run
from maintenance.models import Environment, MaintenanceRun, MaintenanceTask
from monitoring.alerting.acklinks import ack_link_token
from monitoring.alerting.budgets import budget_save
from monitoring.alerting.conditions import fingerprint
from monitoring.alerting.lifecycle import alert_fire
from monitoring.alerting.models import (
    Alert,
    AlertEvent,
    AlertRule,
    Channel,
    Delivery,
    EscalationPolicy,
    MaintenanceWindow,
    PerformanceBudget,
    RuleState,
    Silence,
)
from monitoring.errors.models import ErrorGroup, ErrorProject
from monitoring.errors.store import events_store
from monitoring.integrations.models import Receiver, ScrapeTarget
from monitoring.models import HealthCheck, HealthCheckResult, Metric
from portal.keys import service_key_issue
from portal.models import Deployment, Service, ServiceKey
from tests.factories import ServiceFactory, UserFactory

SOURCE = {
    "app/core.py": "# TODO: tidy\ndef f(a):\n    return a if a else 0\n",
    "app/complex.py": "def g(a):\n" + "".join(f"    if a == {i}:\n        return {i}\n" for i in range(25)),
}


@dataclass
class Objects:
    users: dict
    admin_token: str
    service: Service  # its key (`key`) is "own service's key"
    other_service: Service  # its key (`other_key`) is "another service's key"
    key: object  # IssuedKey: .key (ServiceKey) and .raw
    other_key: object
    spare_key: ServiceKey  # for revoke and lookups, so the keys above stay valid
    victim: Service  # a service whose slug the API may change or delete
    deployment: Deployment
    metric: Metric
    check: HealthCheck
    heartbeat: HealthCheck
    result: HealthCheckResult
    rule: AlertRule
    alert: Alert
    event: AlertEvent
    state: RuleState
    channel: Channel
    delivery: Delivery
    policy: EscalationPolicy
    silence: Silence
    window: MaintenanceWindow
    gate: QualityGate
    repository: CodeRepository
    scan: object
    file: FileMetrics
    function: FunctionMetrics
    debt: DebtItem
    task: MaintenanceTask
    environment: Environment  # used by runnable_task: deleting it is refused
    runnable_task: MaintenanceTask
    run: MaintenanceRun  # waiting for approval
    budget: PerformanceBudget
    error_group: ErrorGroup
    error_project: ErrorProject
    scrape_target: ScrapeTarget
    receiver: Receiver

    def ack_token(self) -> str:
        return ack_link_token(alert_id=self.alert.pk, recipient=self.users["operator"].email)


def make_users() -> dict:
    """One user per role and one with none (same usernames as the `users` fixture)."""
    made = {role: UserFactory(username=role, role=role) for role in ("viewer", "operator", "admin")}
    made["norole"] = UserFactory(username="norole")
    return made


def make_objects(*, root: Path, users: dict | None = None) -> Objects:
    users = users or make_users()
    now = timezone.now()
    service = ServiceFactory(name="Checkout", slug="checkout")
    other_service = ServiceFactory(name="Billing", slug="billing")
    victim = ServiceFactory(name="Victim", slug="victim")
    key = service_key_issue(service=service, name="own")
    other_key = service_key_issue(service=other_service, name="other")
    spare = service_key_issue(service=victim, name="spare").key
    rule = AlertRule.objects.create(name="High latency", metric="http_latency_ms", threshold=100)
    labels = {"service": service.slug, "route": "/cart"}
    alert, _ = alert_fire(
        rule=rule,
        fingerprint=fingerprint(rule.pk, labels),
        labels=labels,
        value=250.0,
        summary="High latency is high",
        service=service,
    )
    channel = Channel.objects.create(name="ops hook", kind="webhook", url="http://127.0.0.1:9/hook", secret="s3cret")
    check = HealthCheck.objects.create(name="db", kind="database", service=victim, timeout_seconds=2)
    heartbeat = HealthCheck.objects.create(name="nightly", kind="heartbeat", service=service, period_seconds=3600)
    for rel, text in SOURCE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    gate = QualityGate.objects.create(name="default gate")
    repository = CodeRepository.objects.create(name="sample", path=str(root), gate=gate)
    scan = scan_run(scan=scan_create(repository=repository), workers=1)
    environment = Environment.objects.create(name="shop", python=sys.executable, project_dir=str(root))
    runnable_task = MaintenanceTask.objects.create(
        kind="cleanup", title="clean shop", environment=environment, created_at=now, updated_at=now
    )
    return Objects(
        users=users,
        admin_token=Token.objects.create(user=users["admin"]).key,
        service=service,
        other_service=other_service,
        key=key,
        other_key=other_key,
        spare_key=spare,
        victim=victim,
        deployment=Deployment.objects.create(service=service, version="1.0.0"),
        metric=Metric.objects.create(name="http_latency_ms"),
        check=check,
        heartbeat=heartbeat,
        result=HealthCheckResult.objects.create(health_check=check, status="healthy", latency_ms=1.5),
        rule=rule,
        alert=alert,
        event=alert.events.first(),
        state=RuleState.objects.create(
            rule=rule, fingerprint=alert.fingerprint, labels=labels, active_since=now, value=250.0
        ),
        channel=channel,
        delivery=Delivery.objects.create(alert=alert, channel=channel, event="firing", status="sent", sent_at=now),
        policy=EscalationPolicy.objects.create(name="on-call"),
        silence=Silence.objects.create(
            matchers=[{"label": "route", "op": "=", "value": "/other"}],
            ends_at=now + timedelta(hours=1),
            author=users["operator"],
            reason="deploying",
        ),
        window=MaintenanceWindow.objects.create(
            name="upgrade", service=victim, starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=1, hours=1)
        ),
        gate=gate,
        repository=repository,
        scan=scan,
        file=FileMetrics.objects.filter(repository=repository).order_by("path").first(),
        function=FunctionMetrics.objects.filter(file__repository=repository).first(),
        debt=DebtItem.objects.filter(repository=repository).first(),
        task=MaintenanceTask.objects.create(kind="refactor", title="tidy", created_at=now, updated_at=now),
        environment=environment,
        runnable_task=runnable_task,
        run=MaintenanceRun.objects.create(
            task=runnable_task,
            trigger="manual",
            status="waiting_approval",
            plan={"summary": "x", "items": [{}]},
            created_at=now,
        ),
        budget=budget_save(budget=PerformanceBudget(service=service, route="/cart/", kind="p95", limit=800)),
        error_group=ErrorGroup.objects.get(
            pk=events_store(service=service, events=[{"message": "cart total failed"}]).outcomes[0].group_id
        ),
        error_project=ErrorProject.for_service(service),
        scrape_target=ScrapeTarget.objects.create(service=service, url="http://127.0.0.1:9/metrics"),
        receiver=Receiver.objects.create(name="prometheus", kind="alertmanager", service=service),
    )
