"""The public surface of sspr_review.analysis: ``__all__`` is complete and every name in it exists."""

from __future__ import annotations

import sspr_review.analysis as analysis


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
