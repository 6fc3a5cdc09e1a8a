"""Test fixtures that stand up real parts: sites on the real broker, nodes as OS processes."""
