"""The principals a reference backend is seeded with, and their passwords.

Never in the repository: a password comes from the environment
(``CONFORMANCE_<API>_<NAME>_PASSWORD``, e.g. ``CONFORMANCE_GLORIA_SERVICE_PASSWORD``) or is
generated when the database is first seeded and kept in it, so that a restart on the same
``--db`` logs in with the same ones.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field

from conformance.reference._store import Transaction

#: name -> role. ``service`` is the identity a conformance run uses; two staff users let the
#: suite check what one user may see of another's.
PRINCIPALS = {
    "service": "service",
    "admin": "admin",
    "manager": "manager",
    "staff1": "staff",
    "staff2": "staff",
}


@dataclass(frozen=True, slots=True)
class Credential:
    name: str
    role: str
    email: str
    password: str = field(repr=False)
    #: the variable the password came from, or None where it was generated for this database
    from_environment: str | None = None

    def shown(self) -> str:
        """How ``serve`` prints the password: a generated one, or where it came from."""
        return f"(from ${self.from_environment})" if self.from_environment else self.password


def credentials(tx: Transaction, api: str, domain: str) -> dict[str, Credential]:
    """The seeded principals' credentials: from the environment, the database, or new."""
    stored = json.loads(tx.meta(f"credentials:{api}") or "{}")
    found = {}
    for name, role in PRINCIPALS.items():
        variable = f"CONFORMANCE_{api.upper()}_{name.upper()}_PASSWORD"
        given = os.environ.get(variable)
        password = given or stored.get(name) or secrets.token_urlsafe(18)
        if not given:
            stored[name] = password
        found[name] = Credential(
            name, role, f"{name}@{domain}", password, variable if given else None
        )
    tx.set_meta(f"credentials:{api}", json.dumps(stored))
    return found
