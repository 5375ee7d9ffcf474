"""``python -m infoloss`` is the same entry point as the ``infoloss`` console script."""

from infoloss.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
