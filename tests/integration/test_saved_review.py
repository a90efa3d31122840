"""One review per run (issue 24): the notebooks load the review `sspr-review run` computed and saved, instead of
reviewing the week again; a saved review is read only from a file its owner alone can write, of this kit's format
and of the week asked for."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sspr_review import open_workspace
from sspr_review.analysis import findings_json
from sspr_review.app import saved
from sspr_review.app.notebook import notebook_parameters, open_context
from sspr_review.app.workspace import Workspace
from sspr_review.core.errors import ParameterError

pytestmark = pytest.mark.slow  # the demo store

GENERATED = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def saved_review(demo_store: Path, small_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = open_workspace(small_config, source="demo", store=demo_store)
    return saved.save_review(ws.review(), tmp_path_factory.mktemp("run"))


def test_a_notebook_given_the_saved_review_displays_it_without_reviewing_again(
    saved_review: Path, demo_store: Path, small_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert saved_review.stat().st_mode & 0o077 == 0  # the week's personal data: owner-only
    want = saved.load_review(saved_review)

    def no_review(*_: object, **__: object) -> None:
        raise AssertionError("the notebook reviewed the week again")

    monkeypatch.setattr(Workspace, "review", no_review)
    ws = open_workspace(small_config, source="demo", store=demo_store)
    params = notebook_parameters(ws, want.window.week_ending.isoformat(), saved_review)
    ctx = open_context(**params)
    assert findings_json(ctx.review, generated_at=GENERATED) == findings_json(want, generated_at=GENERATED)
    assert ctx.review.data is not None and len(ctx.audit)  # the drill-down tables are there too


def test_a_saved_review_is_read_only_when_it_is_this_kits_own(saved_review: Path, tmp_path: Path) -> None:
    week = saved.load_review(saved_review).window.week_ending.isoformat()
    with pytest.raises(ParameterError, match="leave it empty"):
        saved.load_review(tmp_path / "missing.pickle")
    with pytest.raises(ParameterError, match="not 2001-01-01"):
        saved.load_review(saved_review, week_ending="2001-01-01")
    assert saved.load_review(saved_review, week_ending=week).window.week_ending.isoformat() == week
    other = tmp_path / "other.pickle"
    other.write_bytes(pickle.dumps({"format": "something else", "review": None}))
    other.chmod(0o600)
    with pytest.raises(ParameterError, match="not a review saved by sspr-review run"):
        saved.load_review(other)
    old = tmp_path / "old.pickle"
    document = pickle.loads(saved_review.read_bytes()) | {"kit": "0.0.1"}
    old.write_bytes(pickle.dumps(document))
    old.chmod(0o600)
    with pytest.raises(ParameterError, match=r"saved by sspr-review 0\.0\.1"):
        saved.load_review(old)
    shared = tmp_path / "shared.pickle"
    shared.write_bytes(saved_review.read_bytes())
    shared.chmod(0o620)  # another could have written it: unpickling it could run their code
    with pytest.raises(ParameterError, match="only you can write"):
        saved.load_review(shared)
