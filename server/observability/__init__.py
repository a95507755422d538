"""Metrics, logs and request ids: how the service is watched (README: Observability)."""
