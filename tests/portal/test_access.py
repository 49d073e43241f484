import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from portal.access import operator_required, viewer_required


@operator_required
def operator_page(request):
    return HttpResponse("ok")


@viewer_required
def viewer_page(request):
    return HttpResponse("ok")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "actor, viewer_outcome, operator_outcome",
    [
        ("norole", "denied", "denied"),
        ("viewer", 200, "denied"),
        ("operator", 200, 200),
        ("admin", 200, 200),
    ],
)
def test_role_required_decorators(users, actor, viewer_outcome, operator_outcome):
    for view, expected in ((viewer_page, viewer_outcome), (operator_page, operator_outcome)):
        request = RequestFactory().get("/somewhere/?x=1")
        request.user = users[actor]
        if expected == "denied":
            with pytest.raises(PermissionDenied, match="role"):
                view(request)
        else:
            assert view(request).status_code == expected


def test_anonymous_people_are_sent_to_login_and_back():
    request = RequestFactory().get("/somewhere/?x=1")
    request.user = AnonymousUser()
    response = viewer_page(request)
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/somewhere/%3Fx%3D1"
