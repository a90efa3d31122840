"""``python -m tests.support.graph_server --demo``: see :func:`tests.support.graph_server.cli.main`."""

from .cli import main

raise SystemExit(main())
