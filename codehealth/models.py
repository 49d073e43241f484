"""Models of the codehealth app."""
