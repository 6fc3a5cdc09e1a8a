"""The functional core: ``decide(state, command) -> event`` and ``evolve(state, event) -> state``.

Nothing here reads the clock, the network or a database: time and ids come in as
arguments or in the events themselves (DESIGN.md invariant 6).
"""
from services.domain import pairing, watch  # noqa: F401  (register the server, pair and status rules)
