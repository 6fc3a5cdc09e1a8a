"""The functional core: ``decide(state, command) -> event`` and ``evolve(state, event) -> state``.

Nothing here reads the clock, the network or a database: time and ids come in as
arguments or in the events themselves (invariant 6 in docs/architecture.md).
"""

from services.domain import pairing, watch  # noqa: F401  (register the server, pair and status rules)
