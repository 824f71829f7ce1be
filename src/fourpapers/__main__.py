"""``python -m fourpapers float-path | nbval-mode NB... | check-glue LOG NB...`` (see
fourpapers.book)."""

from .book import _main

raise SystemExit(_main())
