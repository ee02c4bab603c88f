"""`python -m mtcp`: the `mtcp` command."""

from .cli import main

raise SystemExit(main())
