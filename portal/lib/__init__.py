"""Helpers shared by every app. Modules here import no app code."""
