"""Helpers for the fault tests: alerts with a queued notification each, and worker clusters
that can be killed hard (the whole process group, as the OOM killer or a power cut would)."""

import os
import signal
import subprocess
from contextlib import contextmanager, suppress

import pytest
from django.utils import timezone

from monitoring.alerting.conditions import fingerprint
from monitoring.alerting.lifecycle import alert_fire
from monitoring.alerting.models import AlertRule
from tests.support import ROOT, manage_command


@pytest.fixture
def fire(db):
    """fire(channel, count) -> that many firing alerts, each with a trigger delivery to `channel`
    (queued, not sent: on_commit never runs inside a test transaction, the sweeps send)."""

    def make(channel, count: int):
        rule = AlertRule.objects.create(name=f"faulty {channel.name}", metric="m", threshold=1)
        rule.channels.set([channel])
        alerts = []
        for n in range(count):
            labels = {"n": str(n)}
            alert, _ = alert_fire(
                rule=rule,
                fingerprint=fingerprint(rule.pk, labels),
                labels=labels,
                value=2.0,
                summary=f"alert {n}",
                now=timezone.now(),
            )
            alerts.append(alert)
        return alerts

    return make


@contextmanager
def cluster(env: dict, *, log_path):
    """`manage.py qcluster` in its own process group, output to a file. Yields the Popen; on exit
    the cluster is stopped with SIGTERM (then its group with SIGKILL) unless a test killed it."""
    with open(log_path, "a") as log:
        proc = subprocess.Popen(
            manage_command("qcluster"), env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()  # the cluster stops its own workers (SIGTERM to all of them hangs it)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    signal_group(proc, signal.SIGKILL)
                    proc.wait()
            signal_group(proc, signal.SIGKILL)  # workers orphaned by a killed parent


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
