"""``python -m bench``: run every scenario against the real broker and database, print the table,
write bench/results/latest.json and bench/results/latest.png. See bench/README.md."""

from __future__ import annotations

import sys


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        sys.stderr.write(
            "bench: matplotlib is missing; it draws bench/results/latest.png.\n"
            "       Install the bench extra:  .venv/bin/pip install -e '.[bench]'\n"
            "       (or just:                 .venv/bin/pip install matplotlib)\n"
        )
        raise SystemExit(2) from None


def main() -> None:
    _require_matplotlib()
    from bench.run import cli

    cli()


if __name__ == "__main__":
    main()
