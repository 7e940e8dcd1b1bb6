"""The embedded reference backend: both APIs served spec-first on SQLite (``conformance serve``).

Routes, request validation and response shapes come from ``specs/`` through
`conformance.contract`; one generic resource engine serves the plain CRUD operations and each
API adds handlers for its special ones. Imports nothing of the suite (ARCHITECTURE.md).
"""

from __future__ import annotations

from conformance.reference._backend import Backend, open_backend
from conformance.reference._defects import DEFECTS, Defect
from conformance.reference._server import Running, check_loopback, open_store, running, serve
from conformance.reference._settings import Settings
from conformance.reference._store import DatabaseError, Store

__all__ = [
    "DEFECTS",
    "Backend",
    "DatabaseError",
    "Defect",
    "Running",
    "Settings",
    "Store",
    "check_loopback",
    "open_backend",
    "open_store",
    "running",
    "serve",
]
