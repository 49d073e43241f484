from monitoring.alerting.checks import delivery_settings


def test_defaults_pass():
    assert delivery_settings(None) == []


def test_non_positive_values_are_errors(settings):
    settings.ALERTING_DELIVERY_MAX_ATTEMPTS = 0
    settings.ALERTING_ACK_LINK_MAX_AGE_HOURS = -1
    errors = delivery_settings(None)
    assert [e.id for e in errors] == ["alerting.E001", "alerting.E001"]
    assert "ALERTING_DELIVERY_MAX_ATTEMPTS is 0" in errors[0].msg


def test_cap_below_first_delay_is_an_error(settings):
    settings.ALERTING_DELIVERY_BACKOFF_SECONDS = 600
    settings.ALERTING_DELIVERY_BACKOFF_MAX_SECONDS = 60
    assert [e.id for e in delivery_settings(None)] == ["alerting.E002"]


def test_values_past_their_maximum_are_errors(settings):
    settings.ALERTING_DELIVERY_MAX_ATTEMPTS = 10**6
    settings.ALERTING_DELIVERY_BACKOFF_MAX_SECONDS = 2**40
    errors = delivery_settings(None)
    assert [e.id for e in errors] == ["alerting.E003", "alerting.E003"]
    assert "ALERTING_DELIVERY_MAX_ATTEMPTS is 1000000" in errors[0].msg and "100" in errors[0].hint
