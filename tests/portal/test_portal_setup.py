import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django_q.models import Schedule

import portal.demo.codehealth
from portal.schedules import Periodic, declared_schedules, schedules_sync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_demo_code_history(settings, monkeypatch):
    # --demo scans the last commits of BASE_DIR's repository: a sub-directory and two commits here.
    settings.BASE_DIR = settings.BASE_DIR / "codehealth"
    monkeypatch.setattr(portal.demo.codehealth, "HISTORY_COMMITS", 2)


def run_setup(*args) -> str:
    out = StringIO()
    call_command("portal_setup", *args, stdout=out)
    return out.getvalue()


def schedule_rows():
    return list(Schedule.objects.order_by("name").values_list("name", "func", "schedule_type", "minutes", "cron"))


def test_running_setup_twice_changes_nothing():
    run_setup()
    first = schedule_rows()
    assert len(first) == len(declared_schedules())
    second_output = run_setup()
    assert schedule_rows() == first
    assert "created" not in second_output and "updated" not in second_output


def test_sync_creates_updates_and_leaves_alone():
    job = Periodic(name="test.job", func="portal.tasks.ping", minutes=5)
    assert schedules_sync([job]) == {"test.job": "created"}
    assert schedules_sync([job]) == {"test.job": "unchanged"}
    moved = Periodic(name="test.job", func="portal.tasks.ping", cron="*/10 * * * *")
    assert schedules_sync([moved]) == {"test.job": "updated"}
    row = Schedule.objects.get(name="test.job")
    assert (row.schedule_type, row.cron, row.minutes) == (Schedule.CRON, "*/10 * * * *", None)
    assert Schedule.objects.filter(name="test.job").count() == 1


def test_a_schedule_needs_exactly_one_timing():
    with pytest.raises(ValueError, match="exactly one"):
        Periodic(name="bad", func="portal.tasks.ping").fields()
    with pytest.raises(ValueError, match="exactly one"):
        Periodic(name="bad", func="portal.tasks.ping", minutes=1, cron="* * * * *").fields()


def test_demo_prints_a_generated_password_that_logs_in():
    output = run_setup("--demo")
    match = re.search(r"username: (\S+)\s+password: (\S+)", output)
    assert match, output
    username, password = match.groups()
    user = authenticate(username=username, password=password)
    assert user is not None and user.is_superuser
    assert user.groups.filter(name="admin").exists()
    assert password not in run_setup("--demo")  # second run keeps the password and does not print it


def test_demo_passwords_differ_between_installs(django_user_model):
    first = re.search(r"password: (\S+)", run_setup("--demo")).group(1)
    django_user_model.objects.all().delete()
    second = re.search(r"password: (\S+)", run_setup("--demo")).group(1)
    assert first != second
