"""The address a slave advertises to the master."""

from __future__ import annotations

import socket

import pytest

from slave_service import registration
from slave_service.registration import local_address_towards

LOCALHOST_BOTH_FAMILIES = [
    (socket.AF_INET6, socket.SOCK_DGRAM, 17, "", ("::1", 5000, 0, 0)),
    (socket.AF_INET, socket.SOCK_DGRAM, 17, "", ("127.0.0.1", 5000)),
]


def ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.connect(("::1", 5000))
        return True
    except OSError:
        return False


def test_a_slave_on_ipv4_advertises_ipv4_when_localhost_is_ipv6_first(monkeypatch):
    """localhost resolving to ::1 first must not make an IPv4 slave advertise ::1."""
    monkeypatch.setattr(
        registration.socket, "getaddrinfo", lambda *a, **k: LOCALHOST_BOTH_FAMILIES
    )
    assert local_address_towards("http://localhost:5000", "0.0.0.0") == "127.0.0.1"


@pytest.mark.skipif(not ipv6_loopback_works(), reason="IPv6 loopback is disabled here")
def test_a_slave_on_ipv6_advertises_ipv6(monkeypatch):
    """A slave listening on :: advertises its IPv6 address."""
    monkeypatch.setattr(
        registration.socket, "getaddrinfo", lambda *a, **k: LOCALHOST_BOTH_FAMILIES
    )
    assert local_address_towards("http://localhost:5000", "::") == "::1"


def test_any_family_when_none_fits(monkeypatch):
    """With only IPv4 addresses for the master, an IPv6 slave still gets one."""
    monkeypatch.setattr(
        registration.socket,
        "getaddrinfo",
        lambda *a, **k: LOCALHOST_BOTH_FAMILIES[1:],
    )
    assert local_address_towards("http://localhost:5000", "::") == "127.0.0.1"
