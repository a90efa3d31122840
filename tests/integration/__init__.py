"""Servers on 127.0.0.1, the CLI in subprocesses, notebooks, the browser and the install (marker ``integration``;
``slow``, ``notebook``, ``browser`` and ``install`` mark the slow kinds)."""
