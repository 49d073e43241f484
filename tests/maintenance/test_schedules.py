"""Each task's django-q2 schedule follows the task; schedules in words and next run times."""

from datetime import UTC, datetime, time

import pytest
from django.core.exceptions import ValidationError
from django_q.models import Schedule

from maintenance import schedule_words, tasks
from maintenance.models import MaintenanceRun
from maintenance.schedules import SCHEDULES, task_next_runs
from portal.schedules import declared_schedules

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday


def row(task):
    return Schedule.objects.filter(name=f"maintenance-task-{task.pk}").first()


@pytest.mark.parametrize(
    "fields, cron",
    [
        ({"schedule": "daily", "time_of_day": time(2, 30)}, "30 2 * * *"),
        ({"schedule": "weekly", "time_of_day": time(4, 0), "weekday": 6}, "0 4 * * 0"),
        ({"schedule": "monthly", "time_of_day": time(1, 5), "day_of_month": 15}, "5 1 15 * *"),
        ({"schedule": "cron", "cron": "*/10 8-18 * * 1-5"}, "*/10 8-18 * * 1-5"),
    ],
)
def test_saving_a_scheduled_task_creates_its_schedule(make_task, fields, cron):
    task = make_task(**fields)
    schedule = row(task)
    assert schedule is not None
    assert (schedule.func, schedule.args, schedule.schedule_type, schedule.cron, schedule.repeats) == (
        "maintenance.tasks.task_run_scheduled",
        str(task.pk),
        Schedule.CRON,
        cron,
        -1,
    )
    assert schedule.next_run == task_next_runs(task, count=1)[0]
    assert Schedule.objects.filter(name__startswith="maintenance-task-").count() == 1


def test_changing_the_schedule_updates_the_one_row(make_task):
    task = make_task(schedule="daily", time_of_day=time(3, 0))
    first = row(task)
    task.schedule, task.cron = "cron", "15 * * * *"
    task.save()
    updated = row(task)
    assert updated.pk == first.pk and updated.cron == "15 * * * *"
    assert updated.next_run.minute == 15


@pytest.mark.parametrize("change", ["disable", "manual", "delete", "close"])
def test_disabling_manual_closing_or_deleting_removes_the_schedule(make_task, change):
    task = make_task(schedule="weekly")
    assert row(task) is not None
    pk = task.pk
    if change == "disable":
        task.enabled = False
        task.save()
    elif change == "manual":
        task.schedule = "manual"
        task.save()
    elif change == "close":
        task.status = "done"
        task.save()
    else:
        type(task).objects.filter(pk=pk).delete()  # the queryset delete the admin's bulk action uses
    assert not Schedule.objects.filter(name=f"maintenance-task-{pk}").exists()


def test_a_manual_task_has_no_schedule(make_task):
    assert row(make_task(schedule="manual")) is None


def test_the_scheduled_entry_point_queues_a_run_once(make_task):
    task = make_task(schedule="daily")
    assert tasks.task_run_scheduled(task.pk).startswith("queued run")
    run = MaintenanceRun.objects.get(task=task)
    assert run.trigger == "schedule"
    assert tasks.task_run_scheduled(task.pk).startswith("skipped")  # still queued: no pile-up


def test_the_entry_point_of_a_task_changed_since_drops_its_schedule(make_task):
    task = make_task(schedule="daily")
    type(task).objects.filter(pk=task.pk).update(enabled=False)  # a bulk update skips the signal
    assert tasks.task_run_scheduled(task.pk) == "not scheduled"
    assert row(task) is None and not MaintenanceRun.objects.exists()
    assert tasks.task_run_scheduled(987654) == "not scheduled"


@pytest.mark.parametrize(
    "cron, message",
    [
        ("", "needs a cron expression"),
        ("* * * *", "five fields"),
        ("61 * * * *", "not a valid cron"),
        ("* * * * * *", "five fields"),
        ("x" * 101, "At most 100"),
    ],
)
def test_an_invalid_cron_is_refused_naming_the_field(make_task, cron, message):
    task = make_task()
    task.schedule, task.cron = "cron", cron
    with pytest.raises(ValidationError) as caught:
        task.full_clean()
    assert message in " ".join(caught.value.message_dict["cron"])


@pytest.mark.parametrize(
    "schedule, extra, words",
    [
        ("manual", {}, "Manual only"),
        ("daily", {}, "Every day at 03:00 UTC"),
        ("weekly", {"weekday": 4}, "Every Friday at 03:00 UTC"),
        ("monthly", {"day_of_month": 2}, "On the 2nd of every month at 03:00 UTC"),
        ("cron", {"cron": "*/5 * * * 1-5"}, "Every 5 minutes, Monday through Friday (UTC)"),
    ],
)
def test_schedules_in_words(schedule, extra, words):
    assert schedule_words.schedule_words(schedule, at=time(3, 0), **extra) == words


def test_next_runs_follow_the_expression():
    runs = schedule_words.next_runs(schedule_words.cron_for("weekly", at=time(4, 0), weekday=0), after=NOW, count=2)
    assert runs == [datetime(2026, 3, 9, 4, 0, tzinfo=UTC), datetime(2026, 3, 16, 4, 0, tzinfo=UTC)]
    assert schedule_words.next_runs(None, after=NOW) == []


def test_the_sweep_is_a_declared_periodic_job():
    assert SCHEDULES[0] in declared_schedules()
    assert SCHEDULES[0].func == "maintenance.tasks.runs_sweep"
