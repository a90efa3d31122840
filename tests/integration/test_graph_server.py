"""Tests of the Graph-compatible test server itself, over real HTTP with plain httpx."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.graph_server import DEFAULT_PAGE_SIZES, Fault, GraphData, GraphServer, main

AUDITS = "/auditLogs/directoryAudits"
RISK = "/identityProtection/riskDetections"
REGISTRATION = "/reports/authenticationMethods/userRegistrationDetails"
ASSIGNMENTS = "/roleManagement/directory/roleAssignments"


def _audit(i: int, when: str, activity: str = "Reset password (self-service)", **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"audit-{i}",
        "category": "UserManagement",
        "correlationId": f"corr-{i // 3}",
        "activityDateTime": when,
        "activityDisplayName": activity,
        "loggedByService": "Self-service Password Management",
        "operationType": "Update",
        "result": "success",
        "resultReason": "",
        "initiatedBy": {"user": {"id": f"user-{i % 4}", "userPrincipalName": f"u{i % 4}@contoso.com"}, "app": None},
        "targetResources": [{"id": f"user-{i % 4}", "displayName": f"User {i % 4}", "type": "User"}],
        "additionalDetails": [],
    }
    record.update(extra)
    return record


def _many_audits(n: int) -> list[dict[str, Any]]:
    return [_audit(i, f"2026-11-{10 + i // 1440:02d}T{i // 60 % 24:02d}:{i % 60:02d}:07.{i:07d}Z") for i in range(n)]


def _data() -> GraphData:
    audits = [
        _audit(1, "2026-11-16T10:41:03.1234567Z"),
        _audit(2, "2026-11-16T10:41:03.1234568Z", "Change password (self-service)"),
        _audit(3, "2026-11-16T09:00:00Z", "Self-service password reset flow activity progress"),
        _audit(4, "2026-11-17T00:00:00.5Z", "Reset user password", loggedByService="Core Directory"),
        _audit(5, "2026-11-15T23:59:59.9999999Z", "O'Brien's activity"),
    ]
    risks = [
        {
            "id": f"risk-{i}",
            "riskEventType": "leakedCredentials" if i % 2 else "unfamiliarFeatures",
            "riskLevel": "high",
            "detectedDateTime": f"2026-11-{10 + i:02d}T08:00:00Z",
            "userId": f"user-{i}",
        }
        for i in range(6)
    ]
    registration = [
        {
            "id": f"user-{i}",
            "userPrincipalName": f"u{i}@contoso.com",
            "isSsprRegistered": i % 2 == 0,
            "methodsRegistered": ["email", "mobilePhone"][: i % 3],
        }
        for i in range(5)
    ]
    group = {"@odata.type": "#microsoft.graph.group", "id": "group-1", "displayName": "Helpdesk admins"}
    user = {"@odata.type": "#microsoft.graph.user", "id": "user-0", "userPrincipalName": "u0@contoso.com"}
    return GraphData(
        directory_audits=audits,
        risk_detections=risks,
        user_registration_details=registration,
        role_definitions=[{"id": "role-ga", "displayName": "Global Administrator"}],
        role_assignments=[
            {"id": "ra-1", "roleDefinitionId": "role-ga", "principalId": "user-0", "principal": user},
            {"id": "ra-2", "roleDefinitionId": "role-ga", "principalId": "group-1", "principal": group},
        ],
        role_eligibility_schedule_instances=[{"id": "el-1", "roleDefinitionId": "role-ga", "principalId": "user-0"}],
        group_members={"group-1": [{**user}, {"@odata.type": "#microsoft.graph.user", "id": "user-3"}]},
        group_settings=[{"id": "gs-1", "templateId": "5cf42378-d67d-4f36-ba46-e8b86229381d", "values": []}],
        authentication_methods_policy={"id": "authenticationMethodsPolicy", "policyVersion": "1.5"},
        authorization_policy={"id": "authorizationPolicy", "allowedToUseSSPR": False},
        organization=[{"id": "tenant-1", "displayName": "Contoso"}],
    )


@pytest.fixture
def server() -> Iterator[GraphServer]:
    with GraphServer(_data(), throttle=False) as srv:
        yield srv


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def _get(client: httpx.Client, server: GraphServer, path: str, **params: str) -> httpx.Response:
    return client.get(server.url + path, params=params)


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["value"]]


def _page_all(client: httpx.Client, url: str, params: dict[str, str] | None = None) -> tuple[list[str], int]:
    ids: list[str] = []
    response = client.get(url, params=params)
    pages = 1
    while True:
        body = response.json()
        assert response.status_code == 200, body
        ids += [r["id"] for r in body["value"]]
        link = body.get("@odata.nextLink")
        if not link:
            return ids, pages
        response = client.get(link)
        pages += 1


def _error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert {"code", "message", "innerError"} <= set(error)
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    return error


# ------------------------------------------------------------------------------------------------ paging


def test_paging_over_next_link_returns_every_record_once(client: httpx.Client) -> None:
    data = GraphData(directory_audits=_many_audits(250))
    with GraphServer(data, throttle=False) as srv:
        first = _get(client, srv, AUDITS, **{"$top": "37", "$filter": "activityDateTime ge 2026-11-10T00:00:00Z"})
        link = first.json()["@odata.nextLink"]
        assert link.startswith(srv.url + AUDITS + "?")
        assert "$top=37" in link and "$filter=activityDateTime%20ge%202026-11-10T00:00:00Z" in link
        assert "$skiptoken=" in link
        ids, pages = _page_all(client, srv.url + AUDITS, {"$top": "37"})
        assert pages == 7
        assert len(ids) == len(set(ids)) == 250
        default_ids, default_pages = _page_all(client, srv.url + AUDITS)
        assert default_pages == 3 and sorted(default_ids) == sorted(ids)  # default page size 100


def test_pages_come_from_one_snapshot(client: httpx.Client) -> None:
    data = GraphData(directory_audits=_many_audits(30))
    with GraphServer(data, throttle=False) as srv:
        first = _get(client, srv, AUDITS, **{"$top": "10"}).json()
        data.directory_audits.insert(0, _audit(999, "2026-12-01T00:00:00Z"))  # arrives while paging
        ids = [r["id"] for r in first["value"]]
        link = first["@odata.nextLink"]
        while link:
            body = client.get(link).json()
            ids += [r["id"] for r in body["value"]]
            link = body.get("@odata.nextLink")
        assert len(ids) == len(set(ids)) == 30
        assert "audit-999" in _ids(_get(client, srv, AUDITS, **{"$top": "1"}))  # a new listing sees it


def test_default_order_is_newest_first_and_orderby_asc(server: GraphServer, client: httpx.Client) -> None:
    assert _ids(_get(client, server, AUDITS)) == ["audit-4", "audit-2", "audit-1", "audit-3", "audit-5"]
    asc = _ids(_get(client, server, AUDITS, **{"$orderby": "activityDateTime asc"}))
    assert asc == ["audit-5", "audit-3", "audit-1", "audit-2", "audit-4"]
    bad = _get(client, server, AUDITS, **{"$orderby": "category"})
    assert bad.status_code == 400


def test_top_limits_and_maximum(server: GraphServer, client: httpx.Client) -> None:
    assert len(_ids(_get(client, server, AUDITS, **{"$top": "2"}))) == 2
    assert _get(client, server, AUDITS, **{"$top": "999"}).status_code == 200
    too_big = _get(client, server, AUDITS, **{"$top": "1000"})
    assert too_big.status_code == 400 and _error(too_big)["code"] == "BadRequest"
    assert _get(client, server, RISK, **{"$top": "500"}).status_code == 200
    assert _get(client, server, RISK, **{"$top": "501"}).status_code == 400
    assert _get(client, server, RISK, **{"$top": "0"}).status_code == 400
    assert _get(client, server, RISK, **{"$top": "ten"}).status_code == 400
    duplicated = client.get(server.url + AUDITS + "?$top=1&$top=2")
    assert duplicated.status_code == 400
    assert _get(client, server, AUDITS, **{"$count": "true"}).status_code == 400  # unknown system option


def test_page_sizes_are_configurable_and_registration_ignores_top(client: httpx.Client) -> None:
    assert DEFAULT_PAGE_SIZES[RISK] == (20, 500)
    data = GraphData(
        user_registration_details=[{"id": f"user-{i}"} for i in range(25)],
        risk_detections=[{"id": f"risk-{i}", "detectedDateTime": "2026-11-16T00:00:00Z"} for i in range(45)],
    )
    with GraphServer(data, throttle=False, page_sizes={REGISTRATION: (10, 10)}) as srv:
        ids, pages = _page_all(client, srv.url + REGISTRATION, {"$top": "5"})
        assert pages == 3 and len(set(ids)) == 25
        ids, pages = _page_all(client, srv.url + RISK)
        assert pages == 3 and len(set(ids)) == 45  # default 20 per page


# ----------------------------------------------------------------------------------------------- $filter

FILTERS = [
    # datetimes compare as datetimes whatever the fractional precision
    ("activityDateTime ge 2026-11-16T10:41:03.123Z", ["audit-4", "audit-2", "audit-1"]),
    ("activityDateTime ge 2026-11-16T10:41:03.1234567Z", ["audit-4", "audit-2", "audit-1"]),
    ("activityDateTime gt 2026-11-16T10:41:03.1234567Z", ["audit-4", "audit-2"]),
    ("activityDateTime le 2026-11-16T10:41:03Z", ["audit-3", "audit-5"]),
    (
        "activityDateTime ge 2026-11-16T00:00:00Z and activityDateTime le 2026-11-17T00:00:00Z",
        ["audit-2", "audit-1", "audit-3"],
    ),
    ("activityDateTime eq 2026-11-17T00:00:00.500Z", ["audit-4"]),
    ("activityDateTime ge 2026-11-16", ["audit-4", "audit-2", "audit-1", "audit-3"]),
    ("activityDateTime lt 2026-11-16T01:00:00+01:00", ["audit-5"]),
    ("loggedByService eq 'Core Directory'", ["audit-4"]),
    ("activityDisplayName eq 'Reset password (self-service)'", ["audit-1"]),
    ("activityDisplayName eq 'O''Brien''s activity'", ["audit-5"]),
    ("startswith(activityDisplayName, 'Self-service')", ["audit-3"]),
    ("startswith(activityDisplayName,'Reset') or loggedByService eq 'nothing'", ["audit-4", "audit-1"]),
    (
        "(activityDisplayName eq 'Reset password (self-service)' or activityDisplayName eq 'Reset user password') "
        "and activityDateTime ge 2026-11-16T12:00:00Z",
        ["audit-4"],
    ),
    ("initiatedBy/user/id eq 'user-1'", ["audit-1", "audit-5"]),
    ("targetResources/any(t: t/id eq 'user-2')", ["audit-2"]),
    ("targetResources/any(t:startswith(t/displayName, 'User 3'))", ["audit-3"]),
    ("correlationId eq 'corr-1' AND id eq 'audit-4'", ["audit-4"]),
]


@pytest.mark.parametrize(("expression", "expected"), FILTERS)
def test_filter_grammar(server: GraphServer, client: httpx.Client, expression: str, expected: list[str]) -> None:
    assert _ids(_get(client, server, AUDITS, **{"$filter": expression})) == expected


BAD_FILTERS = [
    "activityDateTime ge '2026-11-16T00:00:00Z'",  # Graph rejects quoted datetimes
    "activityDisplayName eq 2026-11-16T00:00:00Z",
    "activityDateTime ge 2026-11-16T00:00:00",  # no offset
    "activityDateTime ge",
    "activityDisplayName eq 'unterminated",
    "activityDisplayName eq 'x' and",
    "activityDisplayName eq 'x' extra",
    "(activityDisplayName eq 'x'",
    "not activityDisplayName eq 'x'",
    "contains(activityDisplayName, 'x')",
    "activityDisplayName in ('a', 'b')",
    "startswith(activityDisplayName, 'x') eq true",
    "'x' eq activityDisplayName",
    "garbage!!",
    "category eq 'UserManagement'",  # not filterable on directoryAudits: filter client-side
    "result eq 'success'",
    "loggedByService ne 'Core Directory'",
    "targetResources/id eq 'user-1'",
    "targetResources/all(t: t/id eq 'user-1')",
    "targetResources/any(t: id eq 'user-1')",
]


@pytest.mark.parametrize("expression", BAD_FILTERS)
def test_filters_graph_would_reject_are_400(server: GraphServer, client: httpx.Client, expression: str) -> None:
    response = _get(client, server, AUDITS, **{"$filter": expression})
    assert response.status_code == 400
    assert _error(response)["message"].startswith("Invalid filter clause")


def test_filters_on_other_endpoints(server: GraphServer, client: httpx.Client) -> None:
    risky = _get(
        client,
        server,
        RISK,
        **{"$filter": "riskEventType eq 'leakedCredentials' and detectedDateTime ge 2026-11-12T00:00:00Z"},
    )
    assert _ids(risky) == ["risk-3", "risk-5"]
    methods = _get(client, server, REGISTRATION, **{"$filter": "methodsRegistered/any(m: m eq 'mobilePhone')"})
    assert _ids(methods) == ["user-2"]
    flags = _get(client, server, REGISTRATION, **{"$filter": "isSsprRegistered eq true"})
    assert _ids(flags) == ["user-0", "user-2", "user-4"]
    assignments = _get(client, server, ASSIGNMENTS, **{"$filter": "principalId eq 'group-1'"})
    assert _ids(assignments) == ["ra-2"]


def test_strict_filters_can_be_turned_off(client: httpx.Client) -> None:
    with GraphServer(_data(), throttle=False, strict_filters=False) as srv:
        assert len(_ids(_get(client, srv, AUDITS, **{"$filter": "category eq 'UserManagement'"}))) == 5
        assert _get(client, srv, AUDITS, **{"$filter": "activityDateTime ge '2026-11-16'"}).status_code == 400


# ------------------------------------------------------------------------------------- $select, $expand


def test_select(server: GraphServer, client: httpx.Client) -> None:
    response = _get(client, server, AUDITS, **{"$select": "id,activityDateTime", "$top": "1"})
    body = response.json()
    assert body["value"] == [{"id": "audit-4", "activityDateTime": "2026-11-17T00:00:00.5Z"}]
    assert body["@odata.context"].endswith("$metadata#auditLogs/directoryAudits(id,activityDateTime)")
    assert _get(client, server, AUDITS, **{"$select": "initiatedBy/user"}).status_code == 400


def test_expand_principal(server: GraphServer, client: httpx.Client) -> None:
    plain = _get(client, server, ASSIGNMENTS).json()["value"]
    assert all("principal" not in r for r in plain)
    expanded = _get(client, server, ASSIGNMENTS, **{"$expand": "principal"}).json()["value"]
    assert [r["principal"]["@odata.type"] for r in expanded] == ["#microsoft.graph.user", "#microsoft.graph.group"]
    both = _get(client, server, ASSIGNMENTS, **{"$expand": "principal,roleDefinition", "$select": "id"})
    assert both.json()["value"][0]["roleDefinition"]["displayName"] == "Global Administrator"
    assert set(both.json()["value"][0]) == {"id", "principal", "roleDefinition"}
    eligible = _get(
        client, server, "/roleManagement/directory/roleEligibilityScheduleInstances", **{"$expand": "principal"}
    )
    assert eligible.json()["value"][0]["principal"]["id"] == "user-0"  # looked up by principalId
    assert _get(client, server, ASSIGNMENTS, **{"$expand": "appScope"}).status_code == 400
    assert _get(client, server, AUDITS, **{"$expand": "principal"}).status_code == 400


# ------------------------------------------------------------------------------------- other endpoints


def test_other_endpoints(server: GraphServer, client: httpx.Client) -> None:
    members = _get(client, server, "/groups/group-1/transitiveMembers/microsoft.graph.user")
    assert _ids(members) == ["user-0", "user-3"]
    missing = _get(client, server, "/groups/nope/transitiveMembers/microsoft.graph.user")
    assert missing.status_code == 404 and _error(missing)["code"] == "Request_ResourceNotFound"
    policy = _get(client, server, "/policies/authenticationMethodsPolicy").json()
    assert policy["policyVersion"] == "1.5" and "value" not in policy and "@odata.context" in policy
    authorization = _get(client, server, "/policies/authorizationPolicy").json()
    assert authorization["allowedToUseSSPR"] is False and "value" not in authorization
    assert _ids(_get(client, server, "/groupSettings")) == ["gs-1"]
    assert _ids(_get(client, server, "/organization")) == ["tenant-1"]
    assert _ids(_get(client, server, "/roleManagement/directory/roleDefinitions")) == ["role-ga"]
    assert _ids(client.get(server.origin + "/beta/auditLogs/directoryaudits", params={"$top": "1"})) == ["audit-4"]
    unknown = _get(client, server, "/auditLogs/signIns")
    assert unknown.status_code == 404 and _error(unknown)["code"]


def test_send_mail(server: GraphServer, client: httpx.Client) -> None:
    message = {"message": {"subject": "SSPR weekly review", "toRecipients": []}, "saveToSentItems": False}
    response = client.post(server.url + "/users/reports%40contoso.com/sendMail", json=message)
    assert response.status_code == 202 and response.content == b""
    assert server.data.sent_mail == [{"userId": "reports@contoso.com", **message}]
    assert client.post(server.url + "/users/x/sendMail", content=b"{not json").status_code == 400
    assert client.post(server.url + "/users/x/sendMail", json={}).status_code == 400
    assert client.get(server.url + "/users/x/sendMail").status_code == 405
    too_big = client.post(server.url + "/users/x/sendMail", content=b"x" * (4 * 1024 * 1024 + 1))
    assert too_big.status_code == 413
    log = server.requests[0]
    assert log.method == "POST" and log.status == 202 and log.path.endswith("/sendMail")
    assert log.headers["content-type"] == "application/json" and b"SSPR weekly review" in log.body
    assert server.count("/sendMail") == 5 and server.count("/sendMail", 202) == 1


# ------------------------------------------------------------------------------------------- throttling


def test_reports_bucket_throttles_with_retry_after(client: httpx.Client) -> None:
    with GraphServer(_data(), time_scale=0.05) as srv:  # 5 requests per 0.5 s
        statuses = [_get(client, srv, AUDITS if i % 2 else REGISTRATION).status_code for i in range(5)]
        assert statuses == [200] * 5
        throttled = _get(client, srv, AUDITS)
        assert throttled.status_code == 429 and _error(throttled)["code"]
        retry_after = float(throttled.headers["retry-after"])
        assert 0 < retry_after <= 0.5
        assert _get(client, srv, REGISTRATION).status_code == 429  # the whole bucket, not one endpoint
        assert _get(client, srv, RISK).status_code == 200  # another bucket
        assert srv.throttled == {"reports": 2, "identityProtection": 0}
        time.sleep(retry_after + 0.02)
        assert _get(client, srv, AUDITS).status_code == 200  # rejected requests consumed no budget
        assert srv.count(AUDITS, 429) == 1 and srv.count(AUDITS) == 4


def test_retry_after_is_whole_seconds_unscaled(client: httpx.Client) -> None:
    with GraphServer(_data()) as srv:
        for _ in range(5):
            assert _get(client, srv, AUDITS).status_code == 200
        throttled = _get(client, srv, AUDITS)
        assert throttled.status_code == 429
        assert throttled.headers["retry-after"] in {str(n) for n in range(1, 11)}


def test_identity_protection_bucket_has_no_retry_after(client: httpx.Client) -> None:
    with GraphServer(_data(), time_scale=0.2) as srv:  # 1 request per 0.2 s
        assert _get(client, srv, RISK).status_code == 200
        throttled = _get(client, srv, RISK)
        assert throttled.status_code == 429 and "retry-after" not in throttled.headers
        assert srv.throttled["identityProtection"] == 1
        time.sleep(0.25)
        assert _get(client, srv, RISK).status_code == 200


def test_throttle_can_be_disabled(server: GraphServer, client: httpx.Client) -> None:
    assert {_get(client, server, RISK).status_code for _ in range(8)} == {200}


# ----------------------------------------------------------------------------------------------- faults


def test_faults_fire_times_after(server: GraphServer, client: httpx.Client) -> None:
    server.add_fault(Fault(AUDITS, 503, times=2, after=1, retry_after=2, code="ServiceUnavailable", message="busy"))
    responses = [_get(client, server, AUDITS) for _ in range(5)]
    assert [r.status_code for r in responses] == [200, 503, 503, 200, 200]
    assert responses[1].headers["retry-after"] == "2"
    assert _error(responses[2]) | {"innerError": None} == {
        "code": "ServiceUnavailable",
        "message": "busy",
        "innerError": None,
    }
    assert _get(client, server, RISK).status_code == 200  # other paths unaffected
    assert server.count(AUDITS, 503) == 2


def test_fault_page_three_of_a_listing(client: httpx.Client) -> None:
    with GraphServer(GraphData(directory_audits=_many_audits(50)), throttle=False) as srv:
        srv.add_fault(Fault(AUDITS, 500, after=2))
        response = client.get(srv.url + AUDITS, params={"$top": "10"})
        for _ in range(2):
            assert response.status_code == 200
            link = response.json()["@odata.nextLink"]
            response = client.get(link)
        assert response.status_code == 500 and _error(response)["code"] == "InternalServerError"
        assert "retry-after" not in response.headers
        ids, _ = _page_all(client, link)  # the same link works on retry
        assert len(ids) == 30


def test_faulted_requests_consume_no_budget(client: httpx.Client) -> None:
    with GraphServer(_data(), time_scale=0.2) as srv:
        srv.add_fault(Fault(RISK, 429, times=2))
        assert [_get(client, srv, RISK).status_code for _ in range(3)] == [429, 429, 200]
        assert srv.throttled["identityProtection"] == 0


def test_delay_faults(server: GraphServer, client: httpx.Client) -> None:
    server.add_fault(Fault(RISK, 0, delay=0.5))
    with pytest.raises(httpx.ReadTimeout):
        client.get(server.url + RISK, timeout=0.1)
    assert _get(client, server, RISK).status_code == 200
    server.add_fault(Fault(AUDITS, 200, delay=0.2))
    start = time.monotonic()
    assert _get(client, server, AUDITS).status_code == 200
    assert time.monotonic() - start >= 0.2
    server.add_fault(Fault("/organization", -1))
    with pytest.raises(httpx.RemoteProtocolError):
        _get(client, server, "/organization")
    assert _get(client, server, "/organization").status_code == 200


# --------------------------------------------------------------------------------------- deny and auth


def test_deny_is_a_permanent_403(server: GraphServer, client: httpx.Client) -> None:
    server.deny(RISK)
    server.deny(
        REGISTRATION,
        code="Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        message="Neither tenant is B2C or tenant doesn't have premium license",
    )
    for _ in range(2):
        denied = _get(client, server, RISK)
        assert denied.status_code == 403
        assert _error(denied)["code"] == "Authorization_RequestDenied"
    unlicensed = _get(client, server, REGISTRATION)
    assert unlicensed.status_code == 403
    assert _error(unlicensed)["code"] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    assert _get(client, server, AUDITS).status_code == 200


def test_401_without_the_token(client: httpx.Client) -> None:
    with GraphServer(_data(), throttle=False, token="secret") as srv:
        missing = _get(client, srv, AUDITS)
        assert missing.status_code == 401 and _error(missing)["code"] == "InvalidAuthenticationToken"
        assert "www-authenticate" in missing.headers
        wrong = client.get(srv.url + AUDITS, headers={"Authorization": "Bearer other"})
        assert wrong.status_code == 401
        ok = client.get(srv.url + AUDITS, headers={"Authorization": "Bearer secret", "client-request-id": "c-1"})
        assert ok.status_code == 200 and ok.headers["client-request-id"] == "c-1"
        assert srv.requests[-1].headers["authorization"] == "Bearer secret"


# ----------------------------------------------------------------------------------------- lifecycle


def test_concurrent_clients_page_consistently() -> None:
    data = GraphData(directory_audits=_many_audits(300))
    results: list[list[str]] = []

    def worker(url: str) -> None:
        with httpx.Client(timeout=5) as c:
            results.append(_page_all(c, url, {"$top": "50"})[0])

    with GraphServer(data, throttle=False) as srv:
        threads = [threading.Thread(target=worker, args=(srv.url + AUDITS,)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 6 and all(sorted(r) == sorted(results[0]) and len(set(r)) == 300 for r in results)


def test_stop_closes_kept_alive_connections(client: httpx.Client) -> None:
    srv = GraphServer(_data(), throttle=False).start()
    url = srv.url
    assert client.get(url + "/organization").status_code == 200
    srv.stop()
    srv.stop()  # idempotent
    with pytest.raises(httpx.TransportError):
        client.get(url + "/organization")
    with pytest.raises(RuntimeError):
        _ = srv.url


class _FakeTenant:
    end = datetime(2026, 11, 22, tzinfo=UTC)

    def __init__(self) -> None:
        self.seen_as_of: list[datetime] = []

    def directory_audits(self, start: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:
        return [_audit(1, "2026-11-16T10:41:03.1234567Z")]

    def risk_detections(self, as_of: datetime) -> list[dict[str, Any]]:
        self.seen_as_of.append(as_of)
        return []

    def user_registration_details(self, as_of: datetime) -> list[dict[str, Any]]:
        return [{"id": "user-0"}]

    def role_definitions(self) -> list[dict[str, Any]]:
        return []

    def role_assignments(self) -> list[dict[str, Any]]:
        group = {"@odata.type": "#microsoft.graph.group", "id": "group-9"}
        return [{"id": "ra", "principalId": "group-9", "principal": group}]

    def role_eligibility_schedule_instances(self) -> list[dict[str, Any]]:
        return []

    def group_members(self, group_id: str) -> list[dict[str, Any]]:
        return [{"id": f"{group_id}-member"}]

    def group_settings(self) -> list[dict[str, Any]]:
        return []

    def authentication_methods_policy(self) -> dict[str, Any] | None:
        return {"id": "authenticationMethodsPolicy"}

    def authorization_policy(self) -> dict[str, Any] | None:
        return None

    def organization(self) -> dict[str, Any]:
        return {"id": "tenant"}


def test_from_demo_duck_typed() -> None:
    tenant = _FakeTenant()
    data = GraphData.from_demo(tenant)
    assert tenant.seen_as_of == [tenant.end]
    assert data.group_members == {"group-9": [{"id": "group-9-member"}]}
    assert data.organization == [{"id": "tenant"}] and len(data.directory_audits) == 1


def test_cli_needs_demo() -> None:
    with pytest.raises(SystemExit):
        main([])
