"""Pages: paths (table of the most common paths, next steps of a chosen feature, recommendations),
funnels (a form to choose steps and a Chart.js bar chart) and retention (the cohort table).

They ask the same questions as the API, validated by the same query serializers (one rule for
both), and answer from a stored result or on demand the same way."""

from django.shortcuts import render
from django.utils import timezone

from analytics.behaviour import compute
from analytics.behaviour.api import (
    FunnelQuery,
    FunnelsViewSet,
    NextStepsQuery,
    PathsViewSet,
    RetentionQuery,
    RetentionViewSet,
)
from analytics.behaviour.funnels import MAX_STEPS
from portal.access import viewer_required
from portal.models import Service

DAY_CHOICES = (1, 7, 30, 90)
WEEK_CHOICES = (4, 8, 12, 26, 52)
WINDOWS = ((300, "5 minutes"), (3600, "1 hour"), (86_400, "1 day"), (7 * 86_400, "7 days"), (30 * 86_400, "30 days"))
SHOWN = 20


def _query(request, query_class, services, **defaults):
    """The query parameters read by the API's serializer; the first service when none is chosen."""
    data = request.GET.copy()
    if not data.get("service") and services:
        data["service"] = services[0].slug
    for name, value in defaults.items():
        data.setdefault(name, value)
    query = query_class(data=data)
    return query, data


def _answer(viewset_class, query):
    """(answer dict as the API gives it, errors) -- errors is a {field: [messages]} dict or None."""
    q = query.validated_data
    view = viewset_class()
    params = view.params(q)
    since, until, field = view.window(q, timezone.now())
    try:
        answer = compute.behaviour_answer(kind=view.kind, service=q["service"], since=since, until=until, params=params)
    except compute.TooManyEvents as exc:
        return None, {
            field: [
                f"This range reads more than {exc.limit} events and has no stored result: choose fewer days, "
                "or 7 or 30 days (stored daily)."
            ]
        }
    return {"answer": answer, "data": view.shape(answer.data, q), "q": q}, None


def _with_percents(row: dict, *shares: str) -> dict:
    """The shares (0-1) as the 0-100 figures the `percent` filter shows."""
    return {**row, **{f"{name}_percent": None if row[name] is None else row[name] * 100 for name in shares}}


def _next_steps(found: dict | None) -> dict | None:
    if found is None:
        return None
    return {**found, "outcomes": [_with_percents(o, "probability") for o in found["outcomes"]]}


def _flow(next_steps: dict, feature: str, *, width: int = 5, then: int = 3) -> list[dict]:
    """Two steps on from `feature` (a Sankey-like view read as a table): its most likely next
    steps, and for each the most likely step after it. The second step is P(C | B), not
    P(C | A then B): paths of 3 steps give that, with their confidence, in the table above."""
    rows = []
    for outcome in next_steps.get(feature, {}).get("outcomes", [])[:width]:
        step = outcome["step"]
        after = next_steps.get(step, {}).get("outcomes", [])[:then] if step is not None else []
        rows.append(
            {
                "step": step,
                "percent": outcome["probability"] * 100,
                "then": [{"step": o["step"], "percent": o["probability"] * 100} for o in after],
            }
        )
    return rows


def _render(request, template, context, errors):
    return render(request, template, {**context, "errors": errors}, status=400 if errors else 200)


@viewer_required
def paths_page(request):
    services = list(Service.objects.order_by("name"))
    query, data = _query(request, NextStepsQuery, services, days="7", top="10")
    context = {"services": services, "chosen": data, "day_choices": DAY_CHOICES}
    if not services:
        return _render(request, "analytics/behaviour_paths.html", context, None)
    if not query.is_valid():
        return _render(request, "analytics/behaviour_paths.html", context, query.errors)
    found, errors = _answer(PathsViewSet, query)
    if found:
        stored = found["answer"].data
        q = found["q"]
        length = int(data["length"]) if data.get("length") in ("2", "3", "4", "5") else 2
        paths = [_with_percents(p, "support", "confidence") for p in stored["paths"] if p["length"] == length][:SHOWN]
        feature = q.get("feature") or (next(iter(stored["next_steps"]), None))
        context.update(
            answer=found["answer"],
            summary=stored["summary"],
            advice=stored["advice"],
            paths=paths,
            lengths=range(2, 6),
            length=length,
            features=list(stored["next_steps"]),
            feature=feature,
            next_steps=_next_steps(stored["next_steps"].get(feature) if feature else None),
            flow=_flow(stored["next_steps"], feature) if feature else [],
        )
    return _render(request, "analytics/behaviour_paths.html", context, errors)


@viewer_required
def funnels_page(request):
    services = list(Service.objects.order_by("name"))
    steps = [s for s in request.GET.getlist("step") if s.strip()]
    context = {
        "services": services,
        "day_choices": DAY_CHOICES,
        "windows": WINDOWS,
        "slots": [steps[i] if i < len(steps) else "" for i in range(max(len(steps) + 1, 3)) if i < MAX_STEPS],
    }
    query, data = _query(request, FunnelQuery, services, days="7", window="86400")
    context["chosen"] = data
    if not services or not steps:  # nothing asked yet: the form only
        return _render(request, "analytics/behaviour_funnels.html", context, None)
    data.setlist("step", steps)
    query = FunnelQuery(data=data)
    if not query.is_valid():
        return _render(request, "analytics/behaviour_funnels.html", context, query.errors)
    found, errors = _answer(FunnelsViewSet, query)
    if found:
        result = found["data"]
        context.update(
            answer=found["answer"],
            funnel=result,
            funnel_steps=[_with_percents(s, "conversion", "from_previous") for s in result["steps"]],
            chart={
                "labels": [s["step"] for s in result["steps"]],
                "datasets": [
                    {"label": "Reached the step", "data": [s["actors"] for s in result["steps"]]},
                    {"label": "Dropped before it", "data": [s["dropped"] for s in result["steps"]]},
                ],
            },
        )
    return _render(request, "analytics/behaviour_funnels.html", context, errors)


@viewer_required
def retention_page(request):
    services = list(Service.objects.order_by("name"))
    query, data = _query(request, RetentionQuery, services, weeks="8")
    context = {"services": services, "chosen": data, "week_choices": WEEK_CHOICES}
    if not services:
        return _render(request, "analytics/behaviour_retention.html", context, None)
    if not query.is_valid():
        return _render(request, "analytics/behaviour_retention.html", context, query.errors)
    found, errors = _answer(RetentionViewSet, query)
    if found:
        result = found["data"]
        weeks = result["weeks"]
        rows = []
        for cohort in result["cohorts"]:
            cells = [
                {"count": n, "percent": None if s is None else s * 100, "shade": round((s or 0) * 100)}
                for n, s in zip(cohort["retained"], cohort["share"], strict=True)
            ]
            rows.append({**cohort, "cells": cells + [None] * (weeks - len(cells))})
        context.update(answer=found["answer"], retention=result, rows=rows, offsets=range(weeks))
    return _render(request, "analytics/behaviour_retention.html", context, errors)
