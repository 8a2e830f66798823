"""Model lookup for the `GET .../models/{name}` endpoints: the name resolves as a call's model
would (a combo, an alias, `provider/model` with a connected provider, a model a connected
provider lists), or the lookup fails with a 404 saying why.

The one difference from routing: a bare name no provider lists is not found, even when a single
provider is connected and a call would be sent there on the chance it knows the model.
"""

from __future__ import annotations

import msgspec

from omniroute.errors import GatewayError
from omniroute.routing.catalog import Catalog
from omniroute.routing.resolve import resolve_model


class ModelEntry(msgspec.Struct, frozen=True, kw_only=True):
    #: The name as the client asked for it.
    name: str
    #: `combo`, `alias`, or the id of the provider that serves it.
    owned_by: str


def lookup_model(catalog: Catalog, name: str) -> ModelEntry:
    """The model `name` stands for on this gateway; GatewayError 404 when there is none."""
    combo = catalog.combos.get(name)
    if combo is not None:
        if not combo.enabled:
            raise _not_found(f"Combo '{name}' is disabled")
        return ModelEntry(name=name, owned_by="combo")
    try:
        target = resolve_model(catalog, name, lone_provider=False)
    except GatewayError as exc:
        raise _not_found(exc.message) from None
    return ModelEntry(name=name, owned_by="alias" if name in catalog.aliases else target.provider.id)


def _not_found(message: str) -> GatewayError:
    return GatewayError(404, message, param="model", code="model_not_found")
