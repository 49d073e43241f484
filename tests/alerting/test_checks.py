from monitoring.alerting.checks import delivery_settings


def test_defaults_pass():
    assert delivery_settings(None) == []


def test_cap_below_first_delay_is_an_error(settings):
    settings.ALERTING_DELIVERY_BACKOFF_SECONDS = 600
    settings.ALERTING_DELIVERY_BACKOFF_MAX_SECONDS = 60
    assert [e.id for e in delivery_settings(None)] == ["alerting.E002"]
