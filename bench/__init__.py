"""The benchmark of the license server: ``python -m bench`` (``make bench``).

See bench/README.md.
"""
