"""The vendor's side of licensing: keys, signed entitlements, activation requests, receipts.

Everything here but ``cli`` and ``demo`` is pure (bytes in, values out), so the domain
can verify an entitlement in the fence without any I/O. A vendor runs
``licensing vendor ...`` on its own machine; only public keys ever reach a site.
"""
