"""Sentry-SDK-compatible ingest: the envelope and store endpoints, their auth, limits and DSNs."""
