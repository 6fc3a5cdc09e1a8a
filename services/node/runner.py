"""Entry point used by ``licensing server``."""
from services.node.node import Node, serve

__all__ = ["Node", "serve"]
