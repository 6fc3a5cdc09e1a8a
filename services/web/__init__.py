"""The License Manager in the browser, served by each node from its own read models.

``mount(app, settings, node, health=..., reads=...)`` adds the pages, the live event
feed, the capacity chart data, the administrator login and the Manage actions to the
node's aiohttp app (``services.node.http`` composes it with the JSON API).
"""

from services.web.routes import mount

__all__ = ["mount"]
