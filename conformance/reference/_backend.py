"""Assembling a reference backend: the spec, the store, the tokens, the handlers, the seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.contract import Spec, bundled_spec, load_spec
from conformance.errors import SpecError
from conformance.reference import _gloria, _tchat
from conformance.reference._app import ReferenceApp
from conformance.reference._auth import Account, BearerAuth, Tokens, access_ttl_s
from conformance.reference._defects import Defect, Parts, apply_defects, defects_named
from conformance.reference._limits import WindowLimiter
from conformance.reference._model import Context, Principal, now
from conformance.reference._principals import Credential, credentials
from conformance.reference._settings import Settings
from conformance.reference._store import Store
from conformance.reference._validation import ParsedRequest, Validators


@dataclass(frozen=True, slots=True)
class Backend:
    """One API of the reference backend, ready to serve."""

    api: str
    spec: Spec
    app: ReferenceApp
    #: the ``service`` principal: admin rights, the identity a conformance run uses
    service: Principal
    credentials: dict[str, Credential]
    #: the defects switched on in this API (none in a correct backend)
    defects: tuple[Defect, ...] = ()


def read_bundled_spec(api: str, settings: Settings | None = None) -> Spec:
    """``api``'s bundled spec, with the overlay the settings name for it (`Settings.overlays`)
    applied; a `SpecError` for one whose declarations the backend cannot serve."""
    overlay = (settings or Settings()).overlays.get(api)
    spec = load_spec(bundled_spec(api), () if overlay is None else (overlay,))
    if spec.declaration_problems:
        problem = spec.declaration_problems[0]
        path, line = spec.document.origin_of(problem.pointer)  # the overlay's, if it wrote it
        raise SpecError(
            path, f"{problem.pointer}: {problem.message} (run conformance lint)", line=line
        )
    return spec


def open_backend(api: str, store: Store, settings: Settings | None = None) -> Backend:
    """The reference backend of ``api`` over ``store``, seeded on first use."""
    settings = settings or Settings()
    spec = read_bundled_spec(api, settings)
    names: dict[str, str] = {}  # email -> seeded name, for per-principal token lifetimes

    def lifetime(account: Account) -> int:
        seeded = names.get(account.email, "")
        return access_ttl_s(settings.token_lifetimes, account.role, [account.email, seeded])

    tokens = Tokens(api, store, access_ttl_s=lifetime)
    module: Any = (
        _gloria.Gloria(spec, store, tokens)
        if api == "gloria"
        else _tchat.Tchat(spec, store, tokens)
    )

    def operation_for(operation_id: str, principal: Principal) -> Context:
        """The context of a request to ``operation_id`` made by ``principal``, for seeding."""
        operation = spec.operation(operation_id)
        assert operation is not None, operation_id
        return Context(
            api=api,
            spec=spec,
            operation=operation,
            request=ParsedRequest(),
            principal=principal,
            store=store,
            request_id="seed",
            timestamp=now(),
        )

    seed = _gloria.seed if api == "gloria" else _tchat.seed
    with store.write(api) as tx:
        creds = credentials(tx, api, f"{api}.example")
    names.update({credential.email: name for name, credential in creds.items()})
    module.engine.validators = Validators(spec)  # seed bodies are held to the spec, too
    try:
        service = seed(module, operation_for, creds)
    finally:
        module.engine.validators = None
    flow = spec.declarations.auth_flow
    assert flow is not None, f"the {api} spec declares no x-auth-flow"
    authenticator = BearerAuth(tokens, flow.scheme)
    limiter = WindowLimiter(spec, settings)
    app = ReferenceApp(api, spec, store, module.handlers(), authenticator, limiter)
    chosen = defects_named(settings.defects)
    defects = apply_defects(chosen, Parts(api, app, module.engine, tokens))
    return Backend(api, spec, app, service, creds, tuple(defects))
