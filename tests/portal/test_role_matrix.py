"""Who may do what, for every route: the routes come from the URL conf itself (DRF router routes
expanded to their methods), the expected answers from the table below, which spells out the
Roles section of the README:

- pages: anonymous people (and services: a key is no login) go to the login page, a user
  without a role gets 403, viewers read, operators act on alerts, silences and scans, admin-only
  pages refuse viewers and operators; the Django admin lets staff only in;
- API: no credentials 401; people need the viewer role to read and the view's role to write; a
  service key may only write its own service's metrics and deployments (403 everywhere else,
  and for another service);
- public endpoints (health, /metrics, heartbeat pings, login, the token exchange) answer
  everyone alike.

A route missing from the table fails `test_every_route_is_in_the_matrix`: add it with the rule
that should hold. Every request runs in a savepoint that is rolled back, so a DELETE or a
transition by one actor does not change what the next one sees.
"""

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib import admin as django_admin
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from tests.portal.objects import Objects, make_objects

ACTORS = ("anonymous", "norole", "viewer", "operator", "admin", "own_key", "other_key")
KEYS = ("own_key", "other_key")
PEOPLE_RANK = {"norole": 0, "viewer": 1, "operator": 2, "admin": 3}
NEED_RANK = {"login": 0, "viewer": 1, "operator": 2, "admin": 3}
LOGIN = "302 to /login/"
ADMIN_LOGIN = "302 to /admin/login/"
ANY = "anything but a refusal or a 5xx"  # the Django admin's own forms, for staff
# admin_view sends everyone but staff to the login page before the method matters, so for the
# per-model admin routes their GET answer stands for the POST too (it halves the run time).
SKIP = "not asked"
AS_MODELADMIN = "as the ModelAdmin's has_add/has_change/has_delete_permission say"


def rank(actor: str) -> int:
    return PEOPLE_RANK.get(actor, -1)


# --- Rules: what each actor gets -----------------------------------------------------------


@dataclass(frozen=True)
class Same:
    """Everyone gets the same answer (public endpoints, methods a view does not take)."""

    status: int

    def expect(self, actor):
        return self.status


@dataclass(frozen=True)
class Page:
    """An HTML page behind login_required / portal.access.role_required."""

    need: str
    ok: int = 200

    def expect(self, actor):
        if actor == "anonymous" or actor in KEYS:
            return LOGIN
        return self.ok if rank(actor) >= NEED_RANK[self.need] else 403


@dataclass(frozen=True)
class Json:
    """A page's JSON (charts, builder helpers): 403 instead of the login redirect."""

    need: str
    ok: int = 200

    def expect(self, actor):
        return self.ok if rank(actor) >= NEED_RANK[self.need] else 403


@dataclass(frozen=True)
class Api:
    """A REST endpoint. `key`: what the own service's key gets (None: refused); the request
    names the own service, so another service's key is refused."""

    need: str
    ok: int
    key: int | None = None

    def expect(self, actor):
        if actor == "anonymous":
            return 401
        if actor in KEYS:
            return self.key if self.key is not None and actor == "own_key" else 403
        return self.ok if rank(actor) >= NEED_RANK[self.need] else 403


@dataclass(frozen=True)
class Uploader:
    """Benchmark uploads from CI: any service's key (benchmarks belong to no one service) or an admin."""

    ok: int

    def expect(self, actor):
        if actor == "anonymous":
            return 401
        return self.ok if actor in KEYS or actor == "admin" else 403


@dataclass(frozen=True)
class Receiver:
    """Alertmanager/Grafana webhooks: machines only (a receiver token or a service key); people
    are refused whatever their role. The request names the own service."""

    own: int
    other: int = 403

    def expect(self, actor):
        if actor == "anonymous":
            return 401
        if actor in KEYS:
            return self.own if actor == "own_key" else self.other
        return 403


@dataclass(frozen=True)
class ServiceKeyOnly:
    """A protocol endpoint for service keys only (OTLP): no credentials 401, a login 403, a key
    gets `key` (the matrix sends no body, so both keys stop at the content type; another
    service's key naming this service in its data is refused in tests/integrations)."""

    key: int

    def expect(self, actor):
        if actor == "anonymous":
            return 401
        return self.key if actor in KEYS else 403


@dataclass(frozen=True)
class Staff:
    """The Django admin: staff only; everyone else is sent to the admin's login page."""

    ok: object
    others: object = ADMIN_LOGIN

    def expect(self, actor):
        return self.ok if actor == "admin" else self.others


@dataclass
class Route:
    methods: dict
    kwargs: Callable[[Objects], dict] = lambda o: {}
    query: str = ""
    body: dict = field(default_factory=dict)  # JSON sent with unsafe API methods


def pk(attr: str) -> Callable[[Objects], dict]:
    return lambda o: {"pk": getattr(o, attr).pk}


def read(need="viewer", post=None, **kw) -> Route:
    """A page people read; the view does not restrict methods, so a POST renders it too."""
    return Route({"GET": Page(need), "POST": post or Page(need)}, **kw)


def action(need="operator", ok=302, **kw) -> Route:
    """A POST-only page action (the view redirects back after it)."""
    return Route({"GET": Same(405), "POST": Page(need, ok)}, **kw)


def chart(need="viewer", **kw) -> Route:
    return Route({"GET": Json(need), "POST": Json(need, 405)}, **kw)


def api_list(read="viewer", write=None, create=400, **kw) -> Route:
    methods = {"GET": Api(read, 200)}
    if write:
        methods["POST"] = Api(write, create)
    return Route(methods, **kw)


def api_detail(attr, read="viewer", write=None, put=400, patch=200, delete=204) -> Route:
    methods = {"GET": Api(read, 200)}
    if write:
        methods.update(PUT=Api(write, put), PATCH=Api(write, patch), DELETE=Api(write, delete))
    return Route(methods, kwargs=pk(attr))


def api_action(attr, need, ok) -> Route:
    return Route({"POST": Api(need, ok)}, kwargs=pk(attr))


def crud(prefix: str, attr: str, write="admin") -> dict:
    return {
        f"api/v1/{prefix}/": api_list(write=write),
        f"api/v1/{prefix}/<pk>/": api_detail(attr, write=write),
    }


def readonly(prefix: str, attr: str) -> dict:
    return {f"api/v1/{prefix}/": api_list(), f"api/v1/{prefix}/<pk>/": api_detail(attr)}


MATRIX: dict[str, Route] = {
    # --- portal
    "": read("login"),  # people without a role see a note asking for one
    "login/": Route({"GET": Same(200), "POST": Same(200)}),  # an empty form is shown again
    "logout/": Route({"GET": Same(405), "POST": Same(LOGIN)}),
    "health/live": Route({"GET": Same(200), "POST": Same(405)}),
    "favicon.ico": Route({"GET": Same(302), "POST": Same(302)}),
    "charts/tasks-per-hour/": chart(),
    "charts/requests/": chart(query="range=7d"),
    "charts/error-events/": chart(query="range=1h"),
    "api/schema/": Route({"GET": Api("viewer", 200), "POST": Api("admin", 405)}),  # writes need admin first
    # The Swagger page needs a login, and its view checks the API's roles itself.
    "api/docs/": Route({"GET": Page("viewer"), "POST": Page("admin", 405)}),
    # --- API wiring
    "api/v1/": Route({"GET": Api("viewer", 200), "POST": Api("admin", 405)}),
    "api/v1/auth/token/": Route({"GET": Same(405), "POST": Same(400)}),  # no username/password
    # The web-vitals beacon: a public browser key is its credential, not a login (no key: 400).
    "api/v1/vitals/": Route({"GET": Same(405), "POST": Same(400)}),
    "api/v1/.*": Route({"GET": Same(404), "POST": Same(404)}, kwargs=lambda o: {"path": "no-such-thing/"}),
    # --- portal API: services, keys, deployments
    "api/v1/services/": api_list(write="admin"),
    "api/v1/services/<slug>/": Route(
        {"GET": Api("viewer", 200), "PUT": Api("admin", 400), "PATCH": Api("admin", 200), "DELETE": Api("admin", 204)},
        kwargs=lambda o: {"slug": o.victim.slug},
    ),
    "api/v1/services/<slug>/keys/": Route({"POST": Api("admin", 201)}, kwargs=lambda o: {"slug": o.victim.slug}),
    **readonly("service-keys", "spare_key"),
    "api/v1/service-keys/<pk>/revoke/": api_action("spare_key", "admin", 200),
    "api/v1/deployments/": Route(
        {"GET": Api("viewer", 200), "POST": Api("admin", 201, key=201)},
        body={"service": "checkout", "version": "1.2.3"},
    ),
    "api/v1/deployments/<pk>/": api_detail("deployment"),
    # --- monitoring API
    "api/v1/metrics/": Route(
        {"GET": Api("viewer", 200), "POST": Api("admin", 201, key=201)},
        body={"service": "checkout", "samples": [{"name": "matrix_probe", "value": 1.0}]},
    ),
    "api/v1/metrics/query/": Route({"GET": Api("viewer", 200)}, query="name=http_latency_ms"),
    "api/v1/endpoints/": Route({"GET": Api("viewer", 200)}, query="service=checkout"),  # keys may not read
    "api/v1/metrics/series/": Route({"GET": Api("viewer", 200)}, query="name=http_latency_ms"),
    "api/v1/metrics/<pk>/": api_detail("metric"),
    **crud("health-checks", "check"),
    "api/v1/health-checks/<pk>/run/": api_action("check", "operator", 200),
    **readonly("health-check-results", "result"),
    # --- alerting API
    **crud("alert-rules", "rule"),
    **crud("alert-channels", "channel"),
    "api/v1/alert-channels/<pk>/test/": api_action("channel", "admin", 202),
    **crud("escalation-policies", "policy"),
    "api/v1/silences/": api_list(write="operator"),
    "api/v1/silences/<pk>/": api_detail("silence", write="admin"),
    "api/v1/silences/<pk>/expire/": api_action("silence", "operator", 200),
    **crud("maintenance-windows", "window"),
    **crud("budgets", "budget", write="operator"),
    **readonly("alerts", "alert"),
    "api/v1/alerts/<pk>/acknowledge/": api_action("alert", "operator", 200),
    "api/v1/alerts/<pk>/unacknowledge/": api_action("alert", "operator", 409),  # it is firing
    "api/v1/alerts/<pk>/resolve/": api_action("alert", "operator", 200),
    "api/v1/alerts/<pk>/reopen/": api_action("alert", "operator", 409),
    "api/v1/alerts/<pk>/comment/": api_action("alert", "operator", 400),  # no text
    **readonly("alert-events", "event"),
    # --- error groups API
    **readonly("errors/groups", "error_group"),
    "api/v1/errors/groups/<pk>/events/": Route({"GET": Api("viewer", 200)}, kwargs=pk("error_group")),
    "api/v1/errors/groups/<pk>/resolve/": api_action("error_group", "operator", 200),
    "api/v1/errors/groups/<pk>/ignore/": api_action("error_group", "operator", 200),
    "api/v1/errors/groups/<pk>/unresolve/": api_action("error_group", "operator", 409),  # it is unresolved
    "api/v1/errors/groups/<pk>/merge/": api_action("error_group", "operator", 400),  # no target
    # Error projects: people read the DSNs; admins make one for a service (400: none named) and
    # regenerate its key. The DSN's key itself opens no API view.
    "api/v1/errors/projects/": api_list(write="admin"),
    "api/v1/errors/projects/<pk>/": api_detail("error_project"),
    "api/v1/errors/projects/<pk>/regenerate-key/": api_action("error_project", "admin", 200),
    # --- integrations API
    # GET: a key passes authentication, then the view takes POST only (405 for either key).
    "api/v1/integrations/alertmanager/": Route(
        {"GET": Receiver(405, other=405), "POST": Receiver(200)},
        query="service=checkout",
        body={"version": "4", "alerts": []},
    ),
    "api/v1/integrations/grafana/": Route(
        {"GET": Receiver(405, other=405), "POST": Receiver(200)},
        query="service=checkout",
        body={"version": "1", "alerts": []},
    ),
    **crud("integrations/scrape-targets", "scrape_target"),
    **crud("integrations/receivers", "receiver"),
    "api/v1/integrations/receivers/<pk>/token/": api_action("receiver", "admin", 200),
    "api/v1/integrations/receivers/<pk>/revoke-token/": api_action("receiver", "admin", 200),
    **readonly("alert-deliveries", "delivery"),
    **readonly("alert-rule-states", "state"),
    # --- code health API
    **crud("codehealth/gates", "gate"),
    **crud("codehealth/repositories", "repository"),
    "api/v1/codehealth/repositories/<pk>/scan/": api_action("repository", "operator", 202),
    "api/v1/codehealth/repositories/<pk>/imports/": Route({"GET": Api("viewer", 200)}, kwargs=pk("repository")),
    **readonly("codehealth/scans", "scan"),
    **readonly("codehealth/files", "file"),
    **readonly("codehealth/functions", "function"),
    **readonly("codehealth/debt", "debt"),
    # --- maintenance API (the environment is used by a task: deleting it is a 409)
    **crud("maintenance/tasks", "task"),
    "api/v1/maintenance/tasks/<pk>/run/": api_action("runnable_task", "operator", 202),
    "api/v1/maintenance/environments/": api_list(write="admin"),
    "api/v1/maintenance/environments/<pk>/": api_detail("environment", write="admin", delete=409),
    **readonly("maintenance/runs", "run"),
    "api/v1/maintenance/runs/<pk>/approve/": api_action("run", "operator", 200),
    "api/v1/maintenance/runs/<pk>/reject/": api_action("run", "operator", 200),
    "api/v1/maintenance/runs/<pk>/cancel/": api_action("run", "operator", 200),
    "api/v1/maintenance/summary/": Route({"GET": Api("viewer", 200)}),
    # --- maintenance pages
    "maintenance/": read(),
    "maintenance/vulnerabilities/": read(),
    "maintenance/runs/<int:pk>/": read(kwargs=pk("run")),
    "maintenance/tasks/<int:pk>/run/": action(kwargs=pk("runnable_task")),
    "maintenance/runs/<int:pk>/approve/": action(kwargs=pk("run")),
    "maintenance/runs/<int:pk>/reject/": action(kwargs=pk("run")),
    "maintenance/runs/<int:pk>/cancel/": action(kwargs=pk("run")),
    # --- monitoring pages and public endpoints
    "monitoring/": read(),
    "monitoring/services/<slug:slug>/": read(kwargs=lambda o: {"slug": o.service.slug}),
    "monitoring/charts/<slug:slug>/<str:name>/": chart(kwargs=lambda o: {"slug": o.service.slug, "name": "x"}),
    "monitoring/endpoints/": read(),
    "monitoring/endpoints/<slug:slug>/endpoint/": read(
        kwargs=lambda o: {"slug": o.service.slug}, query="route=/a/&method=GET"
    ),
    "monitoring/endpoints/<slug:slug>/chart.json": chart(
        kwargs=lambda o: {"slug": o.service.slug}, query="route=/a/&method=GET"
    ),
    "monitoring/budgets/": read(),
    "monitoring/health/": read(),
    "monitoring/health/new/": read("admin"),  # POST without fields: the empty form again
    "monitoring/health/<int:pk>/edit/": read("admin", kwargs=pk("check")),
    "monitoring/health/<int:pk>/": read(kwargs=pk("check")),
    "monitoring/health/<int:pk>/latency.json": chart(kwargs=pk("check")),
    "metrics": Route({"GET": Same(200), "POST": Same(405)}),
    "health/": Route({"GET": Same(200), "POST": Same(405)}),
    "health/ready": Route({"GET": Same(200), "POST": Same(405)}),
    "ping/<uuid:uuid>": Route({"GET": Same(200), "POST": Same(200)}, kwargs=lambda o: {"uuid": o.heartbeat.uuid}),
    "ping/<uuid:uuid>/start": Route({"GET": Same(200), "POST": Same(200)}, kwargs=lambda o: {"uuid": o.heartbeat.uuid}),
    "ping/<uuid:uuid>/fail": Route({"GET": Same(200), "POST": Same(200)}, kwargs=lambda o: {"uuid": o.heartbeat.uuid}),
    # Sentry SDK ingest: the DSN's public key is the credential; a login or a service key is none.
    "api/<int:project_id>/envelope/": Route({"GET": Same(405), "POST": Same(401)}, kwargs=lambda o: {"project_id": 1}),
    "api/<int:project_id>/store/": Route({"GET": Same(405), "POST": Same(401)}, kwargs=lambda o: {"project_id": 1}),
    # OpenTelemetry exporters: service keys only; an empty application/octet-stream body is a 415.
    "v1/metrics": Route({"GET": Same(405), "POST": ServiceKeyOnly(415)}),
    # --- error group pages
    "monitoring/errors/": read(),
    "monitoring/errors/<int:pk>/": read(kwargs=pk("error_group")),
    "monitoring/errors/<int:pk>/resolve/": action(kwargs=pk("error_group")),
    "monitoring/errors/<int:pk>/ignore/": action(kwargs=pk("error_group")),
    "monitoring/errors/<int:pk>/unresolve/": action(kwargs=pk("error_group")),
    "monitoring/errors/<int:pk>/merge/": action(kwargs=pk("error_group")),
    # --- alert pages
    "alerts/": read(),
    "alerts/<int:pk>/": read(kwargs=pk("alert")),
    "alerts/<int:pk>/comment/": action(kwargs=pk("alert")),
    "alerts/<int:pk>/silence/": action(kwargs=pk("alert")),
    "alerts/<int:pk>/acknowledge/": action(kwargs=pk("alert")),
    "alerts/<int:pk>/unacknowledge/": action(kwargs=pk("alert")),
    "alerts/<int:pk>/resolve/": action(kwargs=pk("alert")),
    "alerts/<int:pk>/reopen/": action(kwargs=pk("alert")),
    # The signed link is the credential: it works the same for whoever opens it.
    "alerts/<int:pk>/ack/<str:token>/": Route(
        {"GET": Same(200), "POST": Same(200)}, kwargs=lambda o: {"pk": o.alert.pk, "token": o.ack_token()}
    ),
    "alerts/silences/": read(),
    "alerts/silences/<int:pk>/expire/": action(kwargs=pk("silence")),
    "alerts/rules/": read("admin"),
    "alerts/rules/new/": read("admin"),  # POST: the empty form again, with its errors
    "alerts/rules/<int:pk>/edit/": read("admin", kwargs=pk("rule")),
    "alerts/rules/labels.json": Route({"GET": Json("admin"), "POST": Same(405)}),
    "alerts/rules/preview.json": Route({"GET": Json("admin", 400), "POST": Json("admin", 405)}),  # no condition
    # --- code health pages
    "codehealth/": read(),
    "codehealth/<int:pk>/": read(kwargs=pk("repository")),
    "codehealth/<int:pk>/scan/": action(kwargs=pk("repository")),
    "codehealth/<int:pk>/debt/": read(kwargs=pk("repository")),
    "codehealth/<int:pk>/imports/": read(kwargs=pk("repository")),
    "codehealth/<int:pk>/scans/<int:scan_pk>/status/": read(
        kwargs=lambda o: {"pk": o.repository.pk, "scan_pk": o.scan.pk}
    ),
    "codehealth/<int:pk>/files/<int:file_pk>/": read(kwargs=lambda o: {"pk": o.repository.pk, "file_pk": o.file.pk}),
    "codehealth/<int:pk>/chart/<str:series>/": chart(kwargs=lambda o: {"pk": o.repository.pk, "series": "quality"}),
    # --- analytics: events from service keys only (people read the analysis), feature figures
    "api/v1/events/": Route(
        {"POST": Receiver(own=201)}, body={"service": "checkout", "events": [{"name": "matrix.probe"}]}
    ),
    "api/v1/analytics/features/": Route({"GET": Api("viewer", 200)}),
    "api/v1/analytics/features/<name>/": Route(
        {"GET": Api("viewer", 200)}, kwargs=lambda o: {"name": "matrix.probe"}, query="service=checkout"
    ),
    "analytics/": read(),
    "analytics/features/<path:name>/": read(kwargs=lambda o: {"name": "matrix.probe"}, query="service=checkout"),
    "analytics/charts/calls/<path:name>": chart(kwargs=lambda o: {"name": "matrix.probe"}, query="service=checkout"),
    "analytics/charts/p95/<path:name>": chart(kwargs=lambda o: {"name": "matrix.probe"}, query="service=checkout"),
    # --- analytics: behaviour analysis (reads; a funnel needs two steps at least)
    "api/v1/analytics/paths/": Route({"GET": Api("viewer", 200)}, query="service=checkout"),
    "api/v1/analytics/next-steps/": Route({"GET": Api("viewer", 200)}, query="service=checkout"),
    "api/v1/analytics/funnels/": Route({"GET": Api("viewer", 200)}, query="service=checkout&step=a&step=b"),
    "api/v1/analytics/retention/": Route({"GET": Api("viewer", 200)}, query="service=checkout"),
    "analytics/paths/": read(),
    "analytics/funnels/": read(query="service=checkout&step=a&step=b"),
    "analytics/retention/": read(),
    "api/v1/reporting/operations/": Route({"GET": Api("viewer", 200)}),
    "api/v1/reporting/uptime/": Route({"GET": Api("viewer", 200)}),
    "api/v1/reporting/trends/": Route({"GET": Api("viewer", 200)}, query="metric=disk_percent"),
    "api/v1/reporting/regressions/": Route({"GET": Api("viewer", 200)}, query="service=checkout"),
    "reporting/operations/": read(),
    "reporting/operations/chart/": chart(),
    "reporting/trends/": read(query="metric=disk_percent"),
    "reporting/trends/chart/": chart(query="metric=disk_percent"),
    # --- report subscriptions and reports: each person's own (ownership in tests/reporting); a
    # missing id is a 404 for everyone allowed to look, the same answer as someone else's.
    "api/v1/reporting/subscriptions/": api_list(write="viewer", create=201),  # every field has a default
    "api/v1/reporting/subscriptions/<pk>/": Route(
        {m: Api("viewer", 404) for m in ("GET", "PUT", "PATCH", "DELETE")}, kwargs=lambda o: {"pk": 0}
    ),
    "api/v1/reporting/subscriptions/<pk>/preview/": Route({"GET": Api("viewer", 404)}, kwargs=lambda o: {"pk": 0}),
    "api/v1/reporting/subscriptions/<pk>/send/": Route({"POST": Api("viewer", 404)}, kwargs=lambda o: {"pk": 0}),
    "api/v1/reporting/reports/": Route({"GET": Api("viewer", 200)}),
    "api/v1/reporting/reports/<pk>/": Route({"GET": Api("viewer", 404)}, kwargs=lambda o: {"pk": 0}),
    # --- reporting: benchmarks (CI uploads runs) and hotspots; detail routes asked for a missing id
    "api/v1/benchmarks/": Route({"GET": Api("viewer", 200)}),
    "api/v1/benchmarks/<pk>/": Route({"GET": Api("viewer", 404)}, kwargs=lambda o: {"pk": 0}),
    "api/v1/benchmarks/runs/": Route({"GET": Api("viewer", 200), "POST": Uploader(400)}),  # an empty upload
    "api/v1/benchmarks/runs/<pk>/": Route({"GET": Api("viewer", 404)}, kwargs=lambda o: {"pk": 0}),
    "api/v1/reporting/hotspots/": Route({"GET": Api("viewer", 200)}),
    "reporting/benchmarks/": read(),
    "reporting/benchmarks/<int:pk>/": Route(
        {"GET": Page("viewer", 404), "POST": Page("viewer", 404)}, kwargs=lambda o: {"pk": 0}
    ),
    "reporting/benchmarks/<int:pk>/chart/": Route(
        {"GET": Json("viewer", 404), "POST": Json("viewer", 405)}, kwargs=lambda o: {"pk": 0}
    ),
    "reporting/hotspots/": read(),
    "reporting/subscriptions/": read(),
    "reporting/subscriptions/new/": Route({"GET": Page("viewer"), "POST": Page("viewer", 400)}),  # empty form
    "reporting/subscriptions/<int:pk>/": Route(
        {"GET": Page("viewer", 404), "POST": Page("viewer", 404)}, kwargs=lambda o: {"pk": 0}
    ),
    "reporting/subscriptions/<int:pk>/delete/": Route(
        {"GET": Page("viewer", 405), "POST": Page("viewer", 404)}, kwargs=lambda o: {"pk": 0}
    ),
    "reporting/subscriptions/<int:pk>/preview/": Route(
        {"GET": Page("viewer", 404), "POST": Page("viewer", 404)}, kwargs=lambda o: {"pk": 0}
    ),
    "reporting/subscriptions/<int:pk>/send/": Route(
        {"GET": Page("viewer", 405), "POST": Page("viewer", 404)}, kwargs=lambda o: {"pk": 0}
    ),
    "reporting/reports/": read(),
    "reporting/reports/<int:pk>/": Route(
        {"GET": Page("viewer", 404), "POST": Page("viewer", 404)}, kwargs=lambda o: {"pk": 0}
    ),
    # The signed token is the credential (RFC 8058 one-click POST): a bad one is a 400 for all.
    "reporting/unsubscribe/<str:token>/": Route(
        {"GET": Same(400), "POST": Same(400)}, kwargs=lambda o: {"token": "not-a-token"}
    ),
    # --- the Django admin (model routes are folded into admin/<model>/...: every ModelAdmin alike)
    "admin/": Route({"GET": Staff(200), "POST": Staff(ANY)}),
    # Staff who are logged in already are sent on to the index.
    "admin/login/": Route({"GET": Staff(302, others=200), "POST": Same(200)}),  # POST: the form's errors
    "admin/logout/": Route({"GET": Staff(405, others=302), "POST": Staff(LOGIN, others=302)}),
    "admin/password_change/": Route({"GET": Staff(200), "POST": Staff(ANY)}),
    "admin/password_change/done/": Route({"GET": Staff(200), "POST": Staff(405)}),
    "admin/autocomplete/": Route({"GET": Staff(403), "POST": Staff(405)}),  # 403: no field named
    "admin/jsi18n/": Route({"GET": Staff(200), "POST": Staff(405)}),
    "admin/r/<path:content_type_id>/<path:object_id>/": Route(
        {"GET": Staff(404), "POST": Staff(404)}, kwargs=lambda o: {"content_type_id": "0", "object_id": "0"}
    ),
    "admin/<model>/": Route({"GET": Staff(200), "POST": Staff(ANY, SKIP)}),
    "admin/<model>/add/": Route({"GET": Staff(AS_MODELADMIN), "POST": Staff(AS_MODELADMIN, SKIP)}),
    # A missing object: the admin goes back to the list with a message.
    "admin/<model>/<path:object_id>/": Route(
        {"GET": Staff(302), "POST": Staff(ANY, SKIP)}, kwargs=lambda o: {"object_id": 0}
    ),
    "admin/<model>/<path:object_id>/change/": Route(
        {"GET": Staff(302), "POST": Staff(AS_MODELADMIN, SKIP)}, kwargs=lambda o: {"object_id": 0}
    ),
    "admin/<model>/<path:object_id>/delete/": Route(
        {"GET": Staff(AS_MODELADMIN), "POST": Staff(AS_MODELADMIN, SKIP)}, kwargs=lambda o: {"object_id": 0}
    ),
    "admin/<model>/<path:object_id>/history/": Route(
        {"GET": Staff(302), "POST": Staff(ANY, SKIP)}, kwargs=lambda o: {"object_id": 0}
    ),
    "admin/<model>/<id>/password/": Route({"GET": Staff(404), "POST": Staff(404)}, kwargs=lambda o: {"id": 0}),
    "admin/<app_label>/": Route({"GET": Staff(200), "POST": Staff(ANY)}, kwargs=lambda o: {"app_label": "alerting"}),
}
# Routes that are the same view as another one (DRF's `.json` format suffixes): covered there.
FORMAT_SUFFIX = re.compile(r"\(\?P<format>|<drf_format_suffix:format>")
# After the per-model admin routes: the admin's catch-all for unknown admin paths.
ADMIN_CATCH_ALL = "admin/(?P<url>.*)$"


# --- Walking the URL conf --------------------------------------------------------------------


@dataclass
class Found:
    key: str  # the matrix entry
    route: str  # the URL pattern as written
    pattern: object
    methods: tuple[str, ...]  # for DRF viewset routes, the methods the router maps
    model: tuple[str, str] | None = None  # admin model routes: (app_label, model_name)


def _admin_models() -> set[tuple[str, str]]:
    return {(m._meta.app_label, m._meta.model_name) for m in django_admin.site._registry}


def _drf_route(route: str) -> str:
    """api/v1/^alerts/(?P<pk>[^/.]+)/$ -> api/v1/alerts/<pk>/"""
    route = re.sub(r"\(\?P<(\w+)>(?:\[\^/\.\]\+|\.\+|\[0-9\]\+)\)", r"<\1>", route)
    return re.sub(r"(^|/)\^", r"\1", route).replace("$", "")


def walk_urlconf() -> list[Found]:
    models = _admin_models()
    found = []

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
                continue
            assert isinstance(pattern, URLPattern)
            route = prefix + str(pattern.pattern)
            if FORMAT_SUFFIX.search(route) or route == ADMIN_CATCH_ALL:
                continue
            actions = getattr(pattern.callback, "actions", None)
            key, model = _drf_route(route), None
            if route.startswith("admin/"):
                parts = route.split("/", 3)
                if len(parts) > 3 and (parts[1], parts[2]) in models:
                    key, model = "admin/<model>/" + parts[3], (parts[1], parts[2])
            if route == "api/v1/^.*$":
                key = "api/v1/.*"
            if key.startswith("admin/(?P<app_label>"):
                key = "admin/<app_label>/"
            methods = tuple(m.upper() for m in actions) if actions else ()
            found.append(Found(key=key, route=route, pattern=pattern, methods=methods, model=model))

    walk(get_resolver().url_patterns, "")
    return found


ROUTES = walk_urlconf()


def test_every_route_is_in_the_matrix():
    missing = sorted({f.key for f in ROUTES if f.key not in MATRIX})
    assert not missing, "routes without an entry in MATRIX (add them to the matrix):\n" + "\n".join(missing)
    unmapped = [f"{f.key} {method}" for f in ROUTES for method in f.methods if method not in MATRIX[f.key].methods]
    assert not unmapped, "router methods without an expectation (add them to the matrix):\n" + "\n".join(unmapped)
    stale = sorted(set(MATRIX) - {f.key for f in ROUTES})
    assert not stale, "entries for routes that no longer exist:\n" + "\n".join(stale)


def test_the_walk_finds_pages_api_routes_and_the_admin():
    keys = {f.key for f in ROUTES}
    assert {"alerts/<int:pk>/", "api/v1/alerts/<pk>/acknowledge/", "admin/<model>/add/"} <= keys
    detail = next(f for f in ROUTES if f.key == "api/v1/alert-rules/<pk>/")
    assert set(detail.methods) == {"GET", "PUT", "PATCH", "DELETE"}


# --- Asking every route as every actor ------------------------------------------------------


def concrete_path(found: Found, route: Route, objects: Objects) -> str:
    kwargs = route.kwargs(objects)
    if found.key == "api/v1/.*":
        return "/api/v1/" + kwargs["path"]
    template = found.route if found.model else found.key  # the real app/model; DRF regexes folded
    path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), template)
    return path + (f"?{route.query}" if route.query else "")


def admin_model_expectation(found: Found, method: str, users) -> object:
    """Staff get the add form unless the ModelAdmin allows no adding (read-only records: results,
    samples, task history); a POST to change is refused the same way before the object is looked up."""
    model = next(m for m in django_admin.site._registry if (m._meta.app_label, m._meta.model_name) == found.model)
    model_admin = django_admin.site._registry[model]

    class Probe:
        user = users["admin"]

    if found.key == "admin/<model>/add/":
        allowed = model_admin.has_add_permission(Probe())
        return (200 if method == "GET" else ANY) if allowed else 403
    if found.key == "admin/<model>/<path:object_id>/delete/":
        # Raw records pruned by retention (usage events, their rollups) cannot be deleted by hand.
        allowed = model_admin.has_delete_permission(Probe())
        return (302 if method == "GET" else ANY) if allowed else 403
    return ANY if model_admin.has_change_permission(Probe()) else 403


def outcome(response) -> object:
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
        if location.startswith("/login/"):
            return LOGIN
    return response.status_code


def satisfied(expected, got) -> bool:
    if expected == ANY:
        return got not in (401, 403, 405, LOGIN, ADMIN_LOGIN) and not (isinstance(got, int) and got >= 500)
    return expected == got


@pytest.fixture
def matrix_objects(db, tmp_path) -> Objects:
    return make_objects(root=tmp_path / "src")


def make_clients(objects: Objects) -> dict[tuple[str, bool], tuple[Client, dict]]:
    """(actor, api) -> a client and its headers: people use their session on pages and a token
    on the API; services send their key; anonymous sends nothing."""
    clients = {}
    for actor in ACTORS:
        for api in (False, True):
            client, headers = Client(), {}
            if actor in KEYS:
                key = objects.key if actor == "own_key" else objects.other_key
                headers = {"Authorization": f"Bearer {key.raw}"}
            elif actor != "anonymous" and api:
                token, _ = Token.objects.get_or_create(user=objects.users[actor])
                headers = {"Authorization": f"Token {token.key}"}
            elif actor != "anonymous":
                client.force_login(objects.users[actor])
            clients[actor, api] = client, headers
    return clients


def test_every_route_answers_every_actor_as_the_matrix_says(matrix_objects):
    clients = make_clients(matrix_objects)
    wrong = []
    for found in ROUTES:
        route = MATRIX.get(found.key)
        if route is None:
            continue  # reported by test_every_route_is_in_the_matrix
        path = concrete_path(found, route, matrix_objects)
        api = path.startswith(("/api/v1/", "/api/schema/"))  # /api/docs/ is a page
        for method, rule in route.methods.items():
            for actor in ACTORS:
                expected = rule.expect(actor)
                if expected == SKIP:
                    continue
                if expected == AS_MODELADMIN:
                    expected = admin_model_expectation(found, method, matrix_objects.users)
                client, headers = clients[actor, api]
                kwargs = {"headers": headers}
                if api and method in ("POST", "PUT", "PATCH"):
                    kwargs |= {"data": json.dumps(route.body), "content_type": "application/json"}
                cookies = copy.deepcopy(client.cookies)  # a logout must not log the next request out
                with transaction.atomic():
                    response = client.generic(method, path, **kwargs)
                    transaction.set_rollback(True)
                client.cookies = cookies
                got = outcome(response)
                if not satisfied(expected, got):
                    wrong.append(f"{method:6} {path:60} {actor:9} expected {expected}, got {got}")
    assert not wrong, f"{len(wrong)} answers differ from the matrix:\n" + "\n".join(wrong)
