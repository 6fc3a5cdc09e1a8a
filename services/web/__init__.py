"""The License Manager in the browser, served by each node from its own read models.

``mount(app, node, pool)`` adds the pages, the live event feed, the capacity chart
data, the administrator login and the Manage actions to the node's aiohttp app.
"""
from services.web.routes import mount

__all__ = ["mount"]
