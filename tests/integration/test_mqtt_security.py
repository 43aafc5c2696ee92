"""The MQTT link against a real Mosquitto with TLS, password auth and an ACL."""

from __future__ import annotations

import logging
import time

import pytest
from mqtt_fixtures import make_broker, make_tls

from akida_edge.config import MqttConfig
from akida_edge.mqtt.client import MqttLink
from akida_edge.mqtt.outbox import Outbox
from akida_edge.mqtt.topics import Topics

pytestmark = pytest.mark.integration

USER, PASSWORD = "edge", "correct horse"
ACL = ("user edge\ntopic readwrite akida/n1/status\ntopic readwrite akida/n1/info\n"
       "topic readwrite akida/n1/ok/#\n")


@pytest.fixture
def secure(tmp_path):
    tls = make_tls(tmp_path)
    broker = make_broker(tmp_path, users={USER: PASSWORD}, acl=ACL, tls=tls)
    yield broker, tls
    broker.stop()


def _link(tmp_path, port, password, **mqtt) -> tuple[MqttLink, Outbox, Topics]:
    pw = tmp_path / f"pw-{len(password)}"
    pw.write_text(password + "\n")
    cfg = MqttConfig(broker="external", port=port, username=USER, password_file=str(pw),
                     reconnect_min_s=0.1, reconnect_max_s=0.8, **mqtt)
    outbox = Outbox(tmp_path / f"outbox-{len(password)}.db")
    topics = Topics("akida", "n1")
    return MqttLink(cfg, topics, outbox), outbox, topics


def _wait(cond, timeout_s=10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not cond():
        time.sleep(0.02)
    return cond()


def test_tls_password_and_acl_denial_reported(secure, tmp_path, caplog):
    broker, tls = secure
    link, outbox, topics = _link(tmp_path, broker.port, PASSWORD, tls_ca=str(tls["ca"]))
    link.start()
    try:
        assert link.wait_connected(10), link.stats.last_error
        allowed = [outbox.add_detection(str(topics.detection("ok")), "n1", "ok", 0, {"i": i})[0]
                   for i in range(5)]
        denied_topic = str(topics.detection("secret"))
        with caplog.at_level(logging.ERROR, logger="akida_edge.mqtt"):
            outbox.add_detection(denied_topic, "n1", "secret", 0, {"i": 99})
            link.wake()
            assert _wait(lambda: outbox.depth() == 0)
        assert link.stats.acked == len(allowed)
        assert link.stats.rejected == 1
        assert outbox.rejected() == [(denied_topic, 0x87, "Not authorized")]
        logged = [r.getMessage() for r in caplog.records]
        assert any(denied_topic in m and "Not authorized" in m for m in logged)
    finally:
        link.stop(2)
    assert link.offline_published.is_set()


def test_wrong_password_logged_and_retried_with_backoff(secure, tmp_path, caplog):
    broker, tls = secure
    link, outbox, _ = _link(tmp_path, broker.port, PASSWORD + "x", tls_ca=str(tls["ca"]))
    with caplog.at_level(logging.INFO, logger="akida_edge.mqtt"):
        link.start()
        assert _wait(lambda: link.stats.auth_failures >= 4, 15)
        link.stop(1)
    assert not link.stats.connected and link.stats.connects == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all("refused the credentials" in m and repr(USER) in m for m in errors)
    assert not any(PASSWORD in r.getMessage() for r in caplog.records)  # the secret is never logged
    delays = [float(r.getMessage().split(" in ")[-1].split()[0]) for r in caplog.records
              if "next connection attempt" in r.getMessage()]
    cfg = link.cfg
    expected = [min(cfg.reconnect_min_s * 2 ** i, cfg.reconnect_max_s) for i in range(len(delays))]
    assert len(delays) >= 3 and delays == pytest.approx(expected)


def test_plain_tcp_refused_by_tls_listener(secure, tmp_path, caplog):
    broker, _ = secure
    link, _, _ = _link(tmp_path, broker.port, PASSWORD)  # no tls_ca: speaks plain MQTT to a TLS port
    link.start()
    # raced: a fixed 1.5 s for the TLS listener to drop the plain connection; on a loaded machine the
    # MQTT thread had not got that far, and stop() ended it with no failure counted: wait for the failure
    assert _wait(lambda: link.stats.connect_failures >= 1, 15), link.stats.last_error
    assert not link.wait_connected(1.5)
    link.stop(0.5)
    assert link.stats.connects == 0 and link.stats.connect_failures >= 1


def test_a_password_file_gone_at_a_reconnect_is_an_error_line_not_a_dead_link(secure, tmp_path, caplog):
    # _new_client raised ConfigError in the MQTT thread: it died with a traceback, and the daemon
    # ran on without MQTT (the outbox filling) until someone restarted it
    broker, tls = secure
    link, outbox, _ = _link(tmp_path, broker.port, PASSWORD, tls_ca=str(tls["ca"]))
    pw = tmp_path / f"pw-{len(PASSWORD)}"
    link.start()
    try:
        assert link.wait_connected(10), link.stats.last_error
        pw.unlink()  # rotated by hand: deleted, then written again
        with caplog.at_level(logging.ERROR, logger="akida_edge.mqtt"):
            broker.stop()
            broker.start()
            assert _wait(lambda: "mqtt.password_file" in link.stats.last_error, 15), link.stats.last_error
            # the thread sets last_error just before it logs the line: wait for the line, not only the field
            said = lambda: [r.getMessage() for r in list(caplog.records)]  # noqa: E731
            assert _wait(lambda: any("mqtt.password_file" in m and "retrying" in m for m in said()),
                         5), said()
        assert link._thread.is_alive()
        pw.write_text(PASSWORD + "\n")
        assert _wait(lambda: link.stats.connects == 2, 15), link.stats.last_error
    finally:
        link.stop(1)
        outbox.close()
