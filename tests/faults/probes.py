"""Task functions the fault tests schedule in real `qcluster` processes (importable there:
manage.py puts the project root on sys.path)."""

from portal.models import Deployment, Service


def tally(name: str, intended: str = "") -> None:
    """One row per run of schedule `name` for the period starting at `intended` (a deployment of
    the `tally` service is just a row with a name and a time)."""
    Deployment.objects.create(service=Service.objects.get(slug="tally"), version=name, description=intended)
