"""What the suite adds to schemathesis, registered with it so that ``st run`` sees it too
(``SCHEMATHESIS_HOOKS=conformance.checks``): today, the hook that teaches it a rule of the
contract it cannot read from a schema. The response checks of the suite land here next.
"""

from __future__ import annotations

from conformance.checks._hooks import agree_on_version

__all__ = ["agree_on_version"]
