"""The `/api/*` management API (used by the dashboard and the CLI)."""
