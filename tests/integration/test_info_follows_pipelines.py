"""The retained `info` follows what each pipeline says of itself (session-27 audit): it was
published when a pipeline was built and on commands only, so an anomaly pipeline's `normal` stayed
`learning` there after it had learned and saved its normal; and it now names each model's content
SHA-256 (`model_sha256`, as `model summary` prints it), as docs/mqtt.md says, so a fleet can see
which model a device runs."""

from __future__ import annotations

import pytest
from mqtt_fixtures import Recorder, free_port, start_daemon, stop_daemon, wait_listening

pytestmark = pytest.mark.integration

CONFIG = """
[device]
id = "n1"
[mqtt]
broker = "embedded"
port = {port}
prefix = "akida"
discovery = false
[state]
dir = "{state}"
[[pipelines]]
name = "pump"
type = "anomaly"
source = {{ type = "synthetic_machine", seed = 2, realtime = true }}
options = {{ learn_s = 5 }}
"""


def test_info_says_when_the_normal_is_learned_and_which_model_runs(tmp_path):
    from akida_edge.apps.anomaly.detector import DEFAULT_BACKBONE
    from akida_edge.engine.modelfile import load_model

    port = free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(CONFIG.format(port=port, state=tmp_path / "state"))
    proc = start_daemon(cfg, tmp_path / "daemon.log")
    rec = None
    try:
        wait_listening(port, timeout_s=60.0)
        rec = Recorder(port, "akida/n1/info")

        def pump(r: Recorder) -> dict:
            infos = r.json("akida/n1/info")
            entries = [p for p in infos[-1]["pipelines"] if p.get("name") == "pump"] if infos else []
            return entries[0] if entries else {}

        assert rec.wait_for(lambda r: pump(r).get("normal") == "learning", 60), rec.messages[-1:]
        assert rec.wait_for(lambda r: pump(r).get("normal") == "loaded", 30), pump(rec)
        assert pump(rec)["model_sha256"] == load_model(DEFAULT_BACKBONE).file_hash  # as `model summary`
        # `status` reports the calibrated threshold in use, not the entry's unused `threshold` key
        # (0.5 by default; session-27 audit), the same as the retained state
        states = Recorder(port, "akida/n1/pump/state")
        answers = Recorder(port, "akida/n1/response/status")
        assert states.wait_for(lambda r: "threshold" in (r.json("akida/n1/pump/state") or [{}])[-1], 30)
        answers.client.publish("akida/n1/request/status", "{}", qos=1)
        assert answers.wait_for(lambda r: r.json("akida/n1/response/status"), 10)
        used = answers.json("akida/n1/response/status")[0]["data"]["pipelines"]["pump"]["threshold"]
        assert used == pytest.approx(states.json("akida/n1/pump/state")[-1]["threshold"], abs=1e-4)
        assert used != 0.5
        states.close()
        answers.close()
    finally:
        if rec is not None:
            rec.close()
        assert stop_daemon(proc) == 0, (tmp_path / "daemon.log").read_text()[-2000:]
