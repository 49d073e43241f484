"""Connects the capture of the portal's own failures: unhandled request exceptions and failed tasks."""
