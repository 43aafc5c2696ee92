"""`run --dashboard PORT` and `dashboard --port/--broker-port` share one port check: 1-65535, one line."""

from __future__ import annotations

import pytest

from akida_edge.cli import main
from akida_edge.commands._args import PORT_MAX, PORT_MIN, check_port
from akida_edge.errors import ConfigError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("port", [PORT_MIN - 1, PORT_MAX + 1, -1])
@pytest.mark.parametrize("argv, option", [
    # an invalid --prefix / a missing --config come after the port check: they must not be reached
    (["dashboard", "--prefix", "a/b", "--port"], "--port"),
    (["dashboard", "--prefix", "a/b", "--broker-port"], "--broker-port"),
    (["run", "--config", "/nonexistent/config.toml", "--dashboard"], "--dashboard"),
])
def test_out_of_range_ports_are_one_line(tmp_path, capsys, argv, option, port):
    assert main([*argv, str(port)]) == 2
    err = capsys.readouterr().err
    assert err == f"akida-edge: error: {option} {port}: not a TCP port; use {PORT_MIN}-{PORT_MAX}\n"


def test_check_port_bounds():
    assert [check_port("--p", p) for p in (PORT_MIN, PORT_MAX)] == [PORT_MIN, PORT_MAX]
    with pytest.raises(ConfigError, match="--p 0"):
        check_port("--p", 0)
