"""The vendor's side of licensing: ``licensing vendor keygen / issue / verify-receipt``.

A vendor runs it on its own machine; the signing itself is pure and lives in
``services.trust``, which the site's servers use to verify what the vendor signed.
"""
