from datetime import timedelta

import factory

from monitoring.alerting.models import AlertRule, Channel, EscalationPolicy, EscalationStep, Silence


class AlertRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertRule
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"rule {n}")
    metric = "http_latency_ms"
    aggregation = "avg"
    window = timedelta(minutes=5)
    comparison = "gt"
    threshold = 100.0
    for_duration = timedelta(0)
    severity = "critical"


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"channel {n}")
    kind = "webhook"
    url = "http://127.0.0.1:9/hook"
    secret = "s3cret"


class EscalationPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EscalationPolicy

    name = factory.Sequence(lambda n: f"policy {n}")


class EscalationStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EscalationStep
        skip_postgeneration_save = True

    policy = factory.SubFactory(EscalationPolicyFactory)
    order = factory.Sequence(int)
    wait_minutes = 0

    @factory.post_generation
    def channels(self, create, extracted, **kwargs):
        if create and extracted:
            self.channels.set(extracted)


class SilenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Silence

    reason = "deploying"
