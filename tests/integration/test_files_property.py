"""Property: whatever Graph records a folder holds, the files source and normalisation store or report each one.

Generated exports mix audit events, risk detections and registration details with extreme and unreadable dates,
deep nesting, lone surrogates and other odd text, non-object items, missing ids, duplicate ids (identical and
conflicting), in UTF-8, UTF-8 with BOM, UTF-16 and UTF-32, as Graph responses, bare lists and JSON lines. Every
fetch finishes, and every record given is stored, listed as rejected (with where and why), or counted as an
identical copy of one that is stored.

Example counts are modest (profile ``sspr``, the default; ``HYPOTHESIS_PROFILE=thorough`` for a longer search).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sspr_review.app.workspace import Workspace
from sspr_review.core import config

settings.register_profile(
    "sspr", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile("thorough", max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "sspr"))

ODD_TIMES = [
    "",
    "9999-12-31T23:59:59.9999999Z",
    "0001-01-01T00:00:00Z",
    "2262-04-12T00:00:00Z",
    "1677-09-01T00:00:00Z",
    "2026-13-45T00:00:00Z",
    "2026-11-16",
    "2026-11-16T08:00:00+05:30",
    "not a date",
    "２０２６-11-16T00:00:00Z",
]

#: Any text, lone surrogates included (written as \\ud800 escapes, as Graph's JSON could carry them).
odd_text = st.text(st.characters(exclude_categories=()), max_size=12)


@st.composite
def times(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["readable", "odd", "other"]))
    if kind == "readable":
        moment = draw(st.datetimes(min_value=dt.datetime(1678, 1, 1)))
        fraction = draw(st.sampled_from(["", ".1", ".1234567", ".999999"]))
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"
    if kind == "odd":
        return draw(st.sampled_from(ODD_TIMES))
    return draw(st.one_of(st.none(), st.integers(), odd_text, st.lists(st.integers(), max_size=2)))


DEPTH = "__nest_this_deep__"


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"x": value}
    return value


@st.composite
def records(draw: st.DrawFn) -> Any:
    """One item of an export: mostly a Graph record of some kind, sometimes something that is not an object."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.one_of(st.none(), st.integers(), odd_text, st.lists(st.integers(), max_size=3)))
    kind = draw(st.sampled_from(["audit", "risk", "registration"]))
    record: dict[str, Any] = {}
    if draw(st.integers(0, 9)):  # an id from a small pool (duplicates), sometimes none
        record["id"] = draw(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]))
    if kind == "audit":
        record["activityDisplayName"] = draw(st.one_of(st.just("Reset password (self-service)"), odd_text))
        record["activityDateTime"] = draw(times())
        record["result"] = draw(st.sampled_from(["success", "failure", "somethingNew"]))
    elif kind == "risk":
        record["riskEventType"] = draw(st.sampled_from(["leakedCredentials", "newKind"]))
        record["detectedDateTime"] = draw(times())
        if draw(st.booleans()):
            record["lastUpdatedDateTime"] = draw(times())
    else:
        record["isSsprRegistered"] = draw(st.one_of(st.booleans(), st.none(), odd_text))
        record["userPrincipalName"] = draw(odd_text)
        if draw(st.booleans()):
            record["lastUpdatedDateTime"] = draw(times())
    if draw(st.booleans()):
        record["extra"] = draw(st.one_of(odd_text, st.integers(), st.floats(allow_nan=False)))
    depth = draw(st.sampled_from([0, 0, 0, 3, 63, 70, 1500]))
    if depth:
        record[DEPTH] = depth  # nested when written (a deep value would exhaust hypothesis's own printer)
    return record


@st.composite
def exports(draw: st.DrawFn) -> list[tuple[str, str, bool, list[Any]]]:
    """Files: (name suffix, encoding, Graph envelope?, items)."""
    files = []
    for _ in range(draw(st.integers(1, 3))):
        suffix = draw(st.sampled_from([".json", ".jsonl"]))
        encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
        items = draw(st.lists(records(), min_size=1, max_size=8))
        repeat = draw(st.integers(0, len(items)))  # an exact copy of some items, as overlapping pages give
        files.append((suffix, encoding, draw(st.booleans()), items + items[:repeat]))
    return files


def write(folder: Path, files: list[tuple[str, str, bool, list[Any]]]) -> int:
    """Write the export; return how many items it holds."""
    count = 0
    for n, (suffix, encoding, envelope, specs) in enumerate(files):
        items = [
            {k: v for k, v in spec.items() if k != DEPTH} | {"nested": nested(spec[DEPTH])}
            if isinstance(spec, dict) and DEPTH in spec
            else spec
            for spec in specs
        ]
        if suffix == ".jsonl":
            text = "\n".join(json.dumps(item) for item in items)
        else:
            text = json.dumps({"@odata.context": "x", "value": items} if envelope else items)
        (folder / f"export{n}{suffix}").write_bytes(text.encode(encoding))
        count += len(items)
    return count


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the thorough profile's longer search
@given(exports())
def test_every_generated_record_is_stored_or_reported(files: list[tuple[str, str, bool, list[Any]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        folder.mkdir()
        given_items = write(folder, files)
        ws = Workspace(config.load(env={"SSPR_REVIEW_STORE_PATH": str(Path(tmp) / "store")}), "files", files=folder)
        result = ws.fetch(progress=False)  # never raises on what the files hold
        report = result.report
        stored = len(ws.read("audit")) + len(ws.read("risk")) + len(ws.read("registration"))
        assert stored + len(report.rejected) + report.identical_copies == given_items, report.lines()
        for rejected in report.rejected:
            assert rejected.where and rejected.reason
        kept = list((ws.store.path / "rejects").glob("*.jsonl"))
        lines = sum(len(f.read_text().splitlines()) for f in kept)
        assert lines == len(report.rejected)
