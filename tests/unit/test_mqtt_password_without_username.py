"""A password from the environment or a systemd credential with an empty [mqtt] username is not
sent (MQTT 3.1.1 has no password without a user name): the daemon says so once, instead of nothing
(session-27 audit; a `password_file` without a username is already refused by the config loader)."""

from __future__ import annotations

import logging

import pytest

from akida_edge.config import PASSWORD_ENV, MqttConfig
from akida_edge.mqtt.client import MqttLink
from akida_edge.mqtt.outbox import Outbox
from akida_edge.mqtt.topics import Topics

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("username, said", [("", 1), ("edge", 0)])
def test_a_password_without_a_username_is_said_once(tmp_path, monkeypatch, caplog, username, said):
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    outbox = Outbox(tmp_path / "outbox.db")
    link = MqttLink(MqttConfig(broker="external", username=username), Topics("akida", "n1"), outbox)
    with caplog.at_level(logging.WARNING, logger="akida_edge.mqtt"):
        for _ in range(3):  # every connection attempt builds a client
            link._new_client()
    lines = [r.getMessage() for r in caplog.records if "username is empty" in r.getMessage()]
    assert len(lines) == said
    assert all("s3cret" not in r.getMessage() for r in caplog.records)
    outbox.close()
