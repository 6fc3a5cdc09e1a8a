"""The wire contract: commands, events, replies and their codec (docs/protocol.md)."""
