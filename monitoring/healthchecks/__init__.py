"""Health checks: kinds (kinds.py), heartbeat status (heartbeat.py), running and recording (runner.py)."""
