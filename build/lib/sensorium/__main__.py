"""`python -m sensorium …` and the `sensorium` console script; the commands live in `sensorium.cli`."""

from __future__ import annotations

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
