"""Archived lines (issue 22.4, reference archive-format.md): the envelope traps real storage archives show, read as
the Graph records they carry; the hour a blob holds under both path layouts; missing hours named as gaps."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sspr_review.core.records import SetAside
from sspr_review.sources.archive.blobs import BlobReader, Hours, blob_hour
from sspr_review.sources.archive.envelope import envelope_time, record_of

SSPR = {"loggedByService": "Self-service Password Management", "activityDisplayName": "Reset password (self-service)"}


def test_en_us_times_and_unpadded_hours_read_as_utc_iso() -> None:
    assert envelope_time("8/22/2022 6:07:16 PM") == "2022-08-22T18:07:16Z"
    assert envelope_time("12/1/2022 12:00:01 AM") == "2022-12-01T00:00:01Z"
    assert envelope_time("2024-03-04T10:00:00.1234567Z") == "2024-03-04T10:00:00.1234567Z"
    assert envelope_time("not a time") == "not a time" and envelope_time(4) is None
    props = {"id": "r1", "detectedDateTime": "2022-09-09T8:48:50.361Z", "riskType": "generic"}
    record = record_of({"time": "9/9/2022 8:49:00 AM", "Level": "Informational", "properties": props}, "risk")
    assert record["detectedDateTime"] == "2022-09-09T08:48:50.361Z" and record["riskEventType"] == "generic"
    no_time = record_of({"time": "9/9/2022 8:49:00 AM", "properties": {"id": "r2"}}, "risk")
    assert no_time["detectedDateTime"] == "2022-09-09T08:49:00Z"  # the envelope's time when the record has none


def test_blob_hours_from_both_layouts_and_gaps_named() -> None:
    tenant = "8c3f2d1e-0000-4000-8000-00000000a22a"
    documented = f"resourceId=/tenants/{tenant}/providers/microsoft.aadiam/y=2024/m=03/d=04/h=09/m=00/PT1H.json"
    measured = f"tenantId={tenant}/y=2024/m=3/d=4/h=11/m=00/PT1H.json"
    assert blob_hour(documented) == datetime(2024, 3, 4, 9, tzinfo=UTC)
    assert blob_hour(measured) == datetime(2024, 3, 4, 11, tzinfo=UTC)
    hours = Hours()
    for path in (documented, measured):
        hour = blob_hour(path)
        assert hour is not None
        hours.add("audit", hour)
    gaps = hours.gaps("audit", datetime(2024, 3, 4, 9, tzinfo=UTC), datetime(2024, 3, 4, 12, tzinfo=UTC))
    assert gaps == [(datetime(2024, 3, 4, 10, tzinfo=UTC), datetime(2024, 3, 4, 11, tzinfo=UTC))]


def test_crlf_lines_captures_and_repeated_deliveries() -> None:
    def line(i: int, time: str = "2024-03-04T10:00:00.0000000Z") -> bytes:
        props = {**SSPR, "id": f"a{i}", "activityDateTime": "2024-03-04T10:00:00.123456+00:00"}
        return json.dumps({"time": time, "category": "AuditLogs", "level": 4, "properties": props}).encode()

    other = {"id": "x", "loggedByService": "Core Directory", "activityDisplayName": "Update user"}
    capture = b'{"records": [' + line(3) + b"]}"
    lines = [line(1) + b"\r\n", line(1, "2024-03-04T10:07:00.0000000Z") + b"\r\n", line(2) + b"\r\n", capture]
    lines.append(json.dumps({"category": "AuditLogs", "properties": other}).encode())  # another service: skipped
    lines.append(b'{"category": "AuditLogs", "properties": "password"}')  # text that is not JSON: set aside
    aside = SetAside()
    reader = BlobReader("audit", aside)
    records = [r for page in reader.blob("blob", lines) for r in page]
    assert [r["id"] for r in records] == ["a1", "a2", "a3"]
    assert reader.duplicates == 1 and aside.identical_copies == 1
    assert "delivered again and dropped" in reader.describe()
