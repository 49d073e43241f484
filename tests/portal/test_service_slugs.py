"""A service's slug is never empty and never collides: names in any script get a usable URL."""

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor

from portal.models import Service
from tests.factories import ServiceFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, slug", [("Checkout API", "checkout-api"), ("Сервис оплаты", "service"), ("支付", "service"), ("Été", "ete")]
)
def test_a_slug_is_made_from_the_name_or_falls_back(name, slug):
    assert Service.objects.create(name=name).slug == slug


@pytest.mark.django_db
def test_names_that_slugify_alike_get_distinct_slugs():
    made = [Service.objects.create(name=name).slug for name in ("Сервис", "支付", "Ω", "A b", "A-b", "a  B")]
    assert made == ["service", "service-2", "service-3", "a-b", "a-b-2", "a-b-3"]


@pytest.mark.django_db
def test_the_api_and_the_pages_work_for_a_service_named_in_cyrillic(api_client, page_client):
    response = api_client("admin").post("/api/v1/services/", {"name": "Платежи"}, format="json")
    assert response.status_code == 201 and response.json()["slug"] == "service"
    assert page_client("viewer").get("/monitoring/").status_code == 200
    assert page_client("viewer").get("/monitoring/services/service/").status_code == 200


@pytest.mark.django_db
def test_the_database_refuses_an_empty_slug():
    service = ServiceFactory(name="x")
    with pytest.raises(IntegrityError):
        Service.objects.filter(pk=service.pk).update(slug="")


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_services_with_an_empty_slug_one():
    executor = MigrationExecutor(connection)
    executor.migrate([("portal", "0002_roles")])
    OldService = executor.loader.project_state([("portal", "0002_roles")]).apps.get_model("portal", "Service")
    OldService.objects.create(name="service", slug="service")
    OldService.objects.create(name="Сервис", slug="")  # slugs are unique: there was at most one
    executor = MigrationExecutor(connection)  # a fresh loader sees the rolled-back state
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert sorted(Service.objects.values_list("slug", flat=True)) == ["service", "service-2"]
