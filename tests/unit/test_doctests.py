"""The docstring examples run, where there are examples: each docstring of the package that holds one is a test
(doctest finds them), passes, and runs at least one example; a module without examples is no test."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import sspr_review

PACKAGE = Path(sspr_review.__file__).parent


def _modules_with_examples() -> list[str]:
    """Modules whose source holds an example prompt (a cheap filter before importing them)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>> " in path.read_text(encoding="utf-8"):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


FOUND = {
    name: [test for test in doctest.DocTestFinder().find(importlib.import_module(name)) if test.examples]
    for name in _modules_with_examples()
}
DOCSTRINGS = sorted((test for tests in FOUND.values() for test in tests), key=lambda test: test.name)


def test_every_module_with_examples_has_them_run() -> None:
    assert FOUND, "no module of the package has docstring examples"
    assert [name for name, tests in FOUND.items() if not tests] == [], "'>>> ' outside any docstring doctest finds"


@pytest.mark.parametrize("test", DOCSTRINGS, ids=lambda test: test.name)
def test_docstring_examples_run(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)
    assert result.attempted > 0, f"{test.name}: every example is skipped"
