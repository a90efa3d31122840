"""The network of each IP the reset-spike rule groups bursts by (spike_signals.network_of): IPv4 addresses read by
a pattern, everything else by Python's ipaddress; both give what ipaddress gives."""

from __future__ import annotations

import ipaddress

import pandas as pd

from sspr_review.analysis.spike_signals import network_of

VALUES = [
    "10.0.0.1",
    "192.168.17.254",
    "0.0.0.0",
    "255.255.255.255",
    " 8.8.8.8 ",  # padded: read trimmed
    "010.0.0.1",  # a leading zero: no IP to ipaddress, kept as text
    "256.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "2001:DB8::1",  # IPv6, any case: its /48
    "::ffff:1.2.3.4",
    "not-an-ip",
    "",
    None,
    "10.0.0.1",
]


def _reference(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip().lower()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    return str(ipaddress.ip_network(f"{address}/{24 if address.version == 4 else 48}", strict=False))


def test_each_ip_s_network_is_what_ipaddress_gives() -> None:
    got = network_of(pd.Series(VALUES, dtype="string"))
    assert [None if pd.isna(v) else v for v in got.tolist()] == [_reference(v) for v in VALUES]
    assert got.tolist()[0] == "10.0.0.0/24" and got.tolist()[9] == "2001:db8::/48"
