"""Inbound authentication of /v1 requests against the catalog's active keys."""

from __future__ import annotations

from omniroute.errors import GatewayError
from omniroute.http.request import Request
from omniroute.routing.catalog import Catalog
from omniroute.security.api_keys import hash_key, key_from_headers
from omniroute.store.records import ApiKeyRow


def authenticate(req: Request, catalog: Catalog, *, required: bool) -> ApiKeyRow | None:
    """The caller's key record; None when keys are not required and none (or an unknown one) was sent."""
    presented = key_from_headers(req.header, req.query("key") if req.query_string else None)
    if presented is None:
        if required:
            raise GatewayError(
                401,
                "Missing API key. Send it as 'Authorization: Bearer <key>', 'x-api-key' or 'x-goog-api-key'",
                code="missing_api_key",
            )
        return None
    row = catalog.keys.get(hash_key(presented))
    if row is None and required:
        raise GatewayError(401, "Invalid API key", code="invalid_api_key")
    return row
