"""Signed documents, pure: Ed25519 keys, entitlements, activation requests and receipts.

Bytes in, values out, no I/O: the domain verifies an entitlement in the fence with it
(invariant 12), the writer signs receipts, and the vendor's tool (``services.vendor``)
issues entitlements. Only public keys ever reach a site.
"""
