"""The page that confirms a one-click acknowledgement links to the alert."""

from django.test import Client

from monitoring.alerting.acklinks import ack_link_token


def test_the_success_page_links_to_the_alert(make_alert, users):
    alert = make_alert()
    url = f"/alerts/{alert.pk}/ack/{ack_link_token(alert_id=alert.pk, recipient=users['operator'].email)}/"
    client = Client()
    assert 'id="open-alert"' not in client.get(url).content.decode()  # not before it is done
    html = client.post(url).content.decode()
    assert 'now <span class="badge acknowledged">' in html
    assert f'<a class="btn secondary" id="open-alert" href="/alerts/{alert.pk}/">Open the alert</a>' in html
