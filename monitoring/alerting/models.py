"""Models of alerting."""
