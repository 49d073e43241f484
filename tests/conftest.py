import pytest
from django.core.servers.basehttp import WSGIServer
from django.test import Client
from django.test.testcases import LiveServerThread
from django_q.brokers import get_broker
from rest_framework.test import APIClient

from analytics import tracker
from monitoring.metrics import REGISTRY
from portal.keys import service_key_issue
from tests.factories import ServiceFactory, UserFactory


class SerialLiveServer(WSGIServer):
    """The live server handles one request at a time. On SQLite the live server shares the test's
    in-memory connection, and Django's threaded server would run concurrent requests (a page's
    assets, two beacons) on that one connection at once: savepoints vanish and the connection is
    left broken for every later test. Tests drive it one step at a time anyway."""

    def __init__(self, *args, connections_override=None, **kwargs):
        # LiveServerThread.run() already put the shared connections in place in this thread.
        super().__init__(*args, **kwargs)


LiveServerThread.server_class = SerialLiveServer

ROLES = ("viewer", "operator", "admin")
ACTORS = ("anonymous", "viewer", "operator", "admin", "other_key")


@pytest.fixture(autouse=True, scope="session")
def no_background_metric_flusher():
    # The flusher thread would write into test databases at its own pace; tests that exercise
    # it start and stop it themselves.
    REGISTRY.on_first_record = None


@pytest.fixture(autouse=True, scope="session")
def no_background_usage_tracker():
    # Features decorated with @track_usage record into the default tracker as tests run; its
    # flush thread would write into test databases at its own pace. Tests flush it themselves.
    tracker.DEFAULT.configure(sink=tracker.DEFAULT.sink, autostart=False)


@pytest.fixture(autouse=True)
def no_leftover_observations():
    # The request middleware records every test client request; a test that flushes the
    # process-wide registry must see only what it recorded itself.
    REGISTRY.take()
    yield
    REGISTRY.take()


@pytest.fixture(autouse=True)
def private_var_dir(settings, tmp_path):
    # portal_setup --demo leaves the first-start password there; never in the developer's var/.
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture(autouse=True)
def no_vitals_beacons_in_browser_tests(request, settings):
    # Chromium sends the web-vitals beacon as a page goes, i.e. while the test tears down. On
    # SQLite the live server shares the test's connection, so a beacon handled during the teardown
    # breaks that connection for every later test. Only tests marked browser(vitals=True) keep it,
    # and they wait for the beacon's answer.
    marker = request.node.get_closest_marker("browser")
    if marker is not None and not marker.kwargs.get("vitals"):
        settings.VITALS_ENABLED = False


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2 at full strength costs ~0.3 s per user; tests create many.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def task_queue(db):
    """The configured broker (ORM or Redis), emptied; `.queue_size()` counts tasks handed to workers."""
    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


@pytest.fixture
def users(db):
    """One user per role, plus one with no role at all."""
    made = {role: UserFactory(username=role, role=role) for role in ROLES}
    made["norole"] = UserFactory(username="norole")
    return made


@pytest.fixture
def service(db):
    return ServiceFactory(name="Checkout", slug="checkout")


@pytest.fixture
def other_service(db):
    return ServiceFactory(name="Billing", slug="billing")


@pytest.fixture
def service_key(service):
    return service_key_issue(service=service, name="test")


@pytest.fixture
def other_key(other_service):
    return service_key_issue(service=other_service, name="other")


@pytest.fixture
def page_client(users):
    """page_client(actor) -> a logged-in django.test.Client (anonymous: logged out)."""

    def make(actor: str) -> Client:
        client = Client()
        if actor != "anonymous":
            client.force_login(users[actor])
        return client

    return make


@pytest.fixture
def api_client(users, other_key):
    """api_client(actor) -> an APIClient as that person, or with another service's key."""

    def make(actor: str) -> APIClient:
        client = APIClient()
        if actor == "other_key":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
        elif actor != "anonymous":
            client.force_authenticate(users[actor])
        return client

    return make


@pytest.fixture
def key_client(service_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {service_key.raw}")
    return client
