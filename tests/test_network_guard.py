"""The test-wide guard itself: anything but loopback fails, loopback works."""

import socket

import pytest

from tests.conftest import NetworkBlocked


@pytest.mark.parametrize("address", [("8.8.8.8", 53), ("192.168.1.1", 80), ("2001:4860:4860::8888", 443)])
def test_connecting_outside_the_machine_is_blocked(address):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s, pytest.raises(NetworkBlocked):
        s.connect(address)


def test_dns_lookups_are_blocked():
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("pypi.org", 443)


def test_udp_out_is_blocked():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(NetworkBlocked):
        s.sendto(b"x", ("1.1.1.1", 53))


def test_loopback_still_works():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(("localhost", server.getsockname()[1]), timeout=2):
            conn, _ = server.accept()
            conn.close()
