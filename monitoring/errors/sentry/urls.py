"""Mounted at the root (portal/urls.py): the paths are the ones the SDKs derive from a DSN."""

from django.urls import path

from monitoring.errors.sentry import views

urlpatterns = [
    path("api/<int:project_id>/envelope/", views.envelope, name="sentry-envelope"),
    path("api/<int:project_id>/store/", views.store, name="sentry-store"),
]
