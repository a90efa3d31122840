"""Helpers for the tests, not tests themselves: the Graph- and Log Analytics-compatible servers (also run with
``python -m tests.support.graph_server --demo`` and ``python -m tests.support.log_analytics_server --port 0``), the
SMTP relay, the wheelhouse for the install test and the analysis tests' table builders."""
