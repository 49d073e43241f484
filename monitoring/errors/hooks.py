"""The portal's own failures become error events: unhandled exceptions of its requests and
failed django-q2 tasks. Connected once, from ErrorsConfig.ready; each handler only captures.

The capture modules (event building, scrubbing, storing, alerting on new groups) are imported
by the first failure, not here: this module loads in every process, short commands included,
which mostly never fail."""

import sys

from django.conf import settings
from django.core.signals import got_request_exception
from django.dispatch import receiver
from django_q.signals import post_execute_in_worker


@receiver(got_request_exception, dispatch_uid="errors.capture.request")
def request_failed(sender, request=None, **kwargs):
    # Sent from inside Django's exception handling, so the exception is the one being handled.
    if settings.ERRORS_CAPTURE_ENABLED:
        exc = sys.exc_info()[1]
        from monitoring.errors.capture import capture_exception  # on the first failure (see above)

        capture_exception(exc, request=request, mechanism="django")


@receiver(post_execute_in_worker, dispatch_uid="errors.capture.task")
def task_failed(sender, func=None, task=None, **kwargs):
    # django-q2 has caught the exception already: a synchronous run sends this from inside the
    # `except`, before setting task["success"] (the exception object is at hand); a worker sends
    # it after, with success False and the traceback as text in task["result"].
    if not settings.ERRORS_CAPTURE_ENABLED or task is None:
        return
    exc = sys.exc_info()[1]
    if task.get("success") is False or ("success" not in task and exc is not None):
        from monitoring.errors.capture import capture_task_failure  # on the first failure (see above)

        capture_task_failure(task, exc=exc)
