"""Store rows the routing unit tests build catalogs from."""

from __future__ import annotations

from omniroute.store.records import ConnectionRow


def connection_row(
    provider: str, row_id: int = 1, *, models: tuple[str, ...] = (), enabled: bool = True
) -> ConnectionRow:
    """An API-key connection named `main` to `provider`, priority 1, its default base URL."""
    return ConnectionRow(
        id=row_id,
        provider=provider,
        name="main",
        base_url=None,
        priority=1,
        enabled=enabled,
        api_key=f"key-{provider}",
        models=models,
    )
