"""The pure parts of running many tenants (issue 26): the exit code, the notebook slots, what a tenant's process
inherits and what its failure said."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sspr_review import fleet
from sspr_review.fleet_run import exit_code
from sspr_review.report.slots import make_slots, notebook_slots


def test_the_exit_code_says_a_tenant_failed_before_mail_and_findings() -> None:
    assert exit_code([0, 0, 0], 0, False) == 0
    assert exit_code([0, 0], 0, True) == 7  # --fail-on over all tenants
    assert exit_code([0, 0], 8, True) == 8
    assert exit_code([0, 5, 0], 8, True) == 9  # one tenant failed: the others completed, the code says so
    assert exit_code([0, 3], 0, False) == 9  # partial (no data from a source), as 3 is without --tenants
    assert exit_code([None, 0], 0, False) == 9  # a tenant that could not start


def test_a_tenants_process_gets_no_configuration_variable_twice() -> None:
    env = {
        "SSPR_REVIEW_AUTH_TENANT_ID": "x",  # in each tenant's configuration already, under its row's id
        "SSPR_REVIEW_GRAPH_URL": "http://127.0.0.1:1/v1.0",
        "SSPR_REVIEW_CONFIG": "/etc/sspr-review/config.toml",
        "SSPR_REVIEW_ACCESS_TOKEN": "t",  # a ready token, a secret, the state folder: passed on
        "SSPR_REVIEW_STATE_DIR": "/tmp/state",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD": "p",
        "PATH": "/usr/bin",
    }
    assert fleet.child_env(env) == {
        "SSPR_REVIEW_ACCESS_TOKEN": "t",
        "SSPR_REVIEW_STATE_DIR": "/tmp/state",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD": "p",
        "PATH": "/usr/bin",
    }


def test_a_failed_tenant_is_described_by_what_its_process_said() -> None:
    stderr = (
        "fetching from graph into /s\n"
        "sspr-review: 2 input records could not be read and were not stored (...):\n"
        "  a.json: line 3\n  b.json: line 9\n"
    )
    assert fleet.message(stderr) == (
        "2 input records could not be read and were not stored (...):\n  a.json: line 3\n  b.json: line 9"
    )
    crash = "Traceback (most recent call last):\n  File ...\nMemoryError: out of memory\n"
    assert fleet.message(crash) == "MemoryError: out of memory"
    assert fleet.message("") == ""


def test_notebook_slots_bound_the_executions_at_once(tmp_path: Path) -> None:
    slots = make_slots(tmp_path / "slots", 1)
    assert slots.stat().st_mode & 0o077 == 0
    inside = threading.Event()
    release = threading.Event()
    said: list[str] = []

    def holder() -> None:
        with notebook_slots(slots, 1):
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    assert inside.wait(5)
    threading.Timer(0.4, release.set).start()
    t0 = time.monotonic()
    with notebook_slots(slots, 2, said.append) as held:
        waited = time.monotonic() - t0
    thread.join(5)
    assert waited >= 0.3 and said == ["waiting for a notebook slot (1 in use by other tenants)"]
    assert len(held) == 1  # one slot in all: a run's notebooks take turns in it
    with notebook_slots(None, 2, said.append) as free, notebook_slots(tmp_path / "none", 2, said.append) as none:
        assert len(free) == len(none) == 2  # no slots: no bound, nothing said
    assert len(said) == 1


def test_a_run_takes_the_free_slots_and_never_waits_holding_one(tmp_path: Path) -> None:
    """Two slots, tenants wanting two each: the first takes both and gives one back when its first notebook is
    done; the second, finding one free, runs with that one instead of waiting for a second (so tenants holding one
    each never wait on each other); a third waits while none is free."""
    slots = make_slots(tmp_path / "slots", 2)
    entered: list[int] = []

    def third() -> None:
        with notebook_slots(slots, 2) as held:
            entered.append(len(held))

    with notebook_slots(slots, 2) as first:
        assert len(first) == 2
        first[0].release()  # one execution done: its slot goes back while the other still runs
        first[0].release()  # released once, whoever asks again
        with notebook_slots(slots, 2) as second:
            assert len(second) == 1
            waiting = threading.Thread(target=third)
            waiting.start()
            time.sleep(0.4)
            assert entered == []  # both slots held: it waits
    waiting.join(5)
    assert entered and entered[0] >= 1  # the blocks' ends released their slots
    with notebook_slots(slots, 2) as again:
        assert len(again) == 2
