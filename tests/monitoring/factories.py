import factory

from monitoring.models import CheckKind, HealthCheck


class HealthCheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HealthCheck

    name = factory.Sequence(lambda n: f"check {n}")
    kind = CheckKind.DATABASE
    config = factory.LazyFunction(dict)
    timeout_seconds = 2.0
