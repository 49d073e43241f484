from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _task_saved(sender, instance, raw=False, **kwargs):
    if raw:  # loaddata: schedules come with the fixture or from portal_setup
        return
    from maintenance.schedules import task_schedule_sync  # models must be ready first

    task_schedule_sync(task=instance)


def _task_deleted(sender, instance, **kwargs):
    from maintenance.schedules import task_schedule_sync

    task_schedule_sync(task=instance, deleted=True)


class MaintenanceConfig(AppConfig):
    name = "maintenance"
    # Pages in the top navigation: (label, url name). Shown once the URL exists.
    nav: list[tuple[str, str]] = [("Maintenance", "maintenance:index")]
    # Operators start runs ("run now") and approve or reject plans.
    operator_permissions: tuple[str, ...] = (
        "maintenance.run_maintenancetask",
        "maintenance.approve_maintenancerun",
    )
    # Dotted path of function(*, stdout, demo) that portal_setup calls to install defaults (idempotent).
    setup_hook: str | None = None

    def ready(self):
        # The one place a task's django-q2 schedule follows the task: also for the admin's bulk
        # delete and deletes by cascade, which never call the model's delete().
        task = self.get_model("MaintenanceTask")
        post_save.connect(_task_saved, sender=task, dispatch_uid="maintenance-task-schedule-save")
        post_delete.connect(_task_deleted, sender=task, dispatch_uid="maintenance-task-schedule-delete")
