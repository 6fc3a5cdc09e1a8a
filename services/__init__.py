"""The license server: domain (pure), writer, projector wiring, node, client, CLI."""
