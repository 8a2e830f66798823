"""Logging, metrics, request log, telemetry, health."""
