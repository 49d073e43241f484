"""Models of the maintenance app."""
