"""``python -m rscni_py``: the same as the ``rscni-py`` console script."""

from __future__ import annotations

from rscni_py.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
