"""Model string -> target provider and upstream model id.

Order: an exact combo name wins over everything (combo names may contain `/`; combos are
expanded by `routing.plan`); then an exact alias; then `prefix/model`, split at the first `/`
(the model may hold more slashes), where the prefix is a node prefix, a provider alias or a
provider id; then wildcard aliases (most specific wins); then the catalogue: a bare name goes
to the one provider that lists it; if several do, the request is ambiguous; if none does and
exactly one provider is connected, that one gets it.
"""

from __future__ import annotations

import re

import msgspec

from omniroute.errors import GatewayError
from omniroute.providers.registry import BY_NAME, ProviderSpec
from omniroute.routing.catalog import Account, Catalog

#: Alias hops allowed before a loop is assumed (`a` -> `b` -> `c`).
MAX_ALIAS_HOPS = 4


class Target(msgspec.Struct, frozen=True, kw_only=True):
    provider: ProviderSpec
    model: str
    accounts: tuple[Account, ...]
    #: The combo this target came from (innermost), if any.
    combo: str | None = None

    @property
    def label(self) -> str:
        return f"{self.provider.alias}/{self.model}"


#: Control characters and path traversal.
_FORBIDDEN_IN_MODEL = re.compile(r"[\x00-\x1f\x7f]|\.\./|\.\.\\")


def check_model_string(model: str) -> None:
    if not model.strip():
        raise GatewayError(400, "'model' must not be empty", param="model", code="invalid_model")
    if _FORBIDDEN_IN_MODEL.search(model):
        raise GatewayError(400, "'model' contains forbidden characters", param="model", code="invalid_model")
    if len(model) > 512:
        raise GatewayError(400, "'model' is too long", param="model", code="invalid_model")


def _target(catalog: Catalog, spec: ProviderSpec, model: str) -> Target:
    accounts = catalog.accounts.get(spec.id, ())
    if not accounts:
        raise GatewayError(
            400,
            f"Provider '{spec.id}' has no enabled connection on this gateway",
            code="provider_not_configured",
            param="model",
        )
    return Target(provider=spec, model=model, accounts=accounts)


def resolve_model(
    catalog: Catalog,
    model: str,
    *,
    pinned_provider: str | None = None,
    hops: int = 0,
    lone_provider: bool = True,
) -> Target:
    """One model string -> one provider target (combos are expanded by `routing.plan`).
    `lone_provider=False` leaves out the last resort (a bare name no provider lists goes to the
    only connected one): a lookup asks what the gateway knows, not where a guess would go."""
    check_model_string(model)
    if pinned_provider is not None:
        spec = catalog.providers.get(pinned_provider) or BY_NAME.get(pinned_provider)
        if spec is None:
            raise GatewayError(404, f"Unknown provider '{pinned_provider}'", code="provider_not_found")
        prefix, _, rest = model.partition("/")
        if rest and (catalog.providers.get(prefix) is spec or BY_NAME.get(prefix) is spec):
            model = rest
        return _target(catalog, spec, model)
    alias = catalog.aliases.get(model)
    if alias is not None and hops < MAX_ALIAS_HOPS:
        return resolve_model(catalog, alias, hops=hops + 1, lone_provider=lone_provider)
    prefix, slash, rest = model.partition("/")
    if slash:
        spec = catalog.providers.get(prefix) or BY_NAME.get(prefix)
        if spec is not None:
            if not rest:
                raise GatewayError(
                    400, f"Model name missing after '{prefix}/'", param="model", code="invalid_model"
                )
            return _target(catalog, spec, rest)
    wildcard = catalog.wildcards.match(model) if len(catalog.wildcards) else None
    if wildcard is not None and wildcard != model and hops < MAX_ALIAS_HOPS:
        return resolve_model(catalog, wildcard, hops=hops + 1, lone_provider=lone_provider)
    return _resolve_bare(catalog, model, lone_provider=lone_provider)


def _resolve_bare(catalog: Catalog, model: str, *, lone_provider: bool) -> Target:
    owners = [pid for pid in catalog.accounts if model in catalog.provider_models(pid)]
    if len(owners) == 1:
        spec = catalog.accounts[owners[0]][0].provider
        return _target(catalog, spec, model)
    if len(owners) > 1:
        raise GatewayError(
            400,
            f"Ambiguous model '{model}'. Use provider/model prefix (one of: {', '.join(sorted(owners))})",
            param="model",
            code="ambiguous_model",
        )
    if lone_provider and len(catalog.accounts) == 1:
        only = next(iter(catalog.accounts.values()))
        return _target(catalog, only[0].provider, model)
    raise GatewayError(
        404,
        f"The model '{model}' does not exist on this gateway. Use provider/model (see GET /v1/models)",
        param="model",
        code="model_not_found",
    )
