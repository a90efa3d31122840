"""The public surface of sspr_review.analysis: ``__all__`` is complete and every name in it exists."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import sspr_review.analysis as analysis

MODULES = sorted(m.name for m in pkgutil.iter_modules(analysis.__path__) if not m.name.startswith("_"))


def test_all_names_exist() -> None:
    assert sorted(analysis.__all__) == sorted(set(analysis.__all__))
    for name in analysis.__all__:
        assert hasattr(analysis, name), name


def test_public_functions_and_classes_are_exported() -> None:
    public = {
        name
        for name, value in vars(analysis).items()
        if not name.startswith("_") and (callable(value) or name.isupper()) and not isinstance(value, type(analysis))
    }
    assert public <= set(analysis.__all__)


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"sspr_review.analysis.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
