"""The ``licensing`` command line (click + rich)."""
