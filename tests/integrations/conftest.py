"""Fixtures shared by the integrations tests (each integration keeps its own in its test files)."""
