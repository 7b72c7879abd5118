"""``recgraft serve``'s refusals: one line on stderr and exit code 2, before any model loads."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.registry import Registry
from recgraft.serve import is_loopback


def serve(*args: str):
    return CliRunner().invoke(build_cli(), ["serve", *args])


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.com"])
def test_serve_refuses_a_non_loopback_host_without_allow_remote(host: str) -> None:
    result = serve("tiny@production", "--host", host, "--port", "0")
    assert result.exit_code == 2
    assert "not a loopback address" in result.stderr and "--allow-remote" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_on_a_missing_registry_is_one_line_and_creates_nothing(isolated_home) -> None:
    result = serve("tiny@production", "--port", "0")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert list(isolated_home.iterdir()) == []


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "localhost"])
def test_loopback_hosts_need_no_flag(host: str) -> None:
    assert is_loopback(host)


def test_allow_remote_lets_serve_bind_and_then_report_the_missing_checkpoint() -> None:
    Registry.open().close()  # a registry, without that checkpoint
    result = serve("no-such-model", "--host", "0.0.0.0", "--allow-remote", "--port", "0")
    assert result.exit_code == 2
    assert "no-such-model" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_busy_port_is_one_line_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = serve("tiny@production", "--port", str(port))
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize(("option", "value"), [("--max-batch", "0"), ("--poll-seconds", "0"),
                                               ("--max-k", "0"), ("--max-history", "-1"), ("--max-wait-ms", "-1")])
def test_out_of_range_settings_are_one_line_and_exit_2(option: str, value: str) -> None:
    result = serve("tiny@production", option, value)
    assert result.exit_code == 2
    assert option in result.stderr and len(result.stderr.strip().splitlines()) == 1
