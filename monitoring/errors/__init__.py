"""Error groups and events: exceptions of the portal and of other services, grouped by fingerprint."""
