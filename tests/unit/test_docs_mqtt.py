"""docs/mqtt.md states what the daemon publishes and answers: its topics (`mqtt/topics.py`), its
commands and their limits (`daemon.py`, `mqtt/commands.py`, the pipelines' `handle_command`), the keys
of a detection and of a telemetry message (built here by a real `Daemon` on a temporary state
directory, with no broker: nothing is sent).
"""

from __future__ import annotations

import json
import re
import time
from types import SimpleNamespace

import docs_text as D
import numpy as np
import pytest

from akida_edge.config import parse_config
from akida_edge.mqtt import commands as cmd
from akida_edge.mqtt.topics import Topics
from akida_edge.pipelines.base import LEARNING_COMMANDS, Activity, Detection

pytestmark = pytest.mark.unit

DOC = "docs/mqtt.md"
SAMPLE = {"<p>": "P", "<node>": "N", "<name>": "NAME", "<cmd>": "CMD"}


def _sub(text: str) -> str:
    for k, v in SAMPLE.items():
        text = text.replace(k, v)
    return text


def _table(heading: str, index: int = 0) -> list[tuple[D.Line, list[str]]]:
    return D.tables(D.section(DOC, heading))[index]


def _flat(heading: str) -> str:
    return " ".join(ln.text for ln in D.section(DOC, heading)).replace("  ", " ")


@pytest.fixture()
def daemon(tmp_path):
    from akida_edge.daemon import Daemon

    config = parse_config({"device": {"id": "N"}, "mqtt": {"prefix": "P"}, "state": {"dir": str(tmp_path)}},
                          str(tmp_path / "config.toml"))
    d = Daemon(config)
    d.link = SimpleNamespace(stats=SimpleNamespace(connected=False, rejected=0), wake=lambda: None)
    yield d
    d.outbox.close()


def test_topics_table_is_the_topics_the_code_builds():
    t = Topics("P", "N")
    built = {str(x) for x in (t.status, t.info, t.pipeline_status("NAME"), t.state("NAME"),
                              t.detection("NAME"), t.telemetry, t.request("CMD"), t.response("CMD"),
                              t.discovery)}
    documented = set()
    for ln, cells in _table("## Topics"):
        for topic in D.backticked(cells[0]):
            documented.add(_sub(topic))
            assert _sub(topic) in built, f"{ln.where}: topic `{topic}` is not one the daemon uses"
    assert built == documented, f"{DOC}: topics the code builds but the table lacks: {built - documented}"
    sentence = _flat("## Topics").split("subscribes to", 1)[1].split(" only", 1)[0]
    subscribed = {_sub(s) for s in D.backticked(sentence)}
    assert subscribed == {t.request_filter, t.ha_status}


def test_command_table_is_the_daemons(daemon):
    documented = {D.backticked(c[0])[0]: c for _, c in _table("## Commands")}
    assert set(documented) == set(daemon.commands.handlers)
    text = _flat("## Commands")
    assert f"(≤ {cmd.MAX_REQUEST_BYTES // 1024} KiB)" in text
    assert f"(string ≤ {cmd.MAX_TRANSACTION_CHARS} characters or integer)" in text
    assert f"up to {cmd.MAX_UPLOAD_REQUEST_BYTES // 1024} KiB (uploads)" in text
    assert daemon.commands.max_bytes["pipeline"] == cmd.MAX_UPLOAD_REQUEST_BYTES
    assert daemon.commands.handlers["ping"]({}) == json.loads(documented["ping"][2].strip("`"))


def test_commands_refuse_an_argument_they_do_not_take(daemon):
    """Session-14 audit: `set_threshold` with `"persist": true`, or `ping` with anything, answered
    "ok" and ignored it (`pipeline` learn already refused a misspelt `synthesise`). The arguments
    each command takes are those the table lists."""
    for _, cells in _table("## Commands"):
        name = D.backticked(cells[0])[0]
        takes = daemon.commands.takes[name]
        if takes is not None:
            assert tuple(D.backticked(cells[1])) == takes, f"{name}: the table's arguments are not the code's"
    for name, body, error in [
        ("set_threshold", {"pipeline": "kws", "value": 0.8, "persist": True},
         "set_threshold takes no argument 'persist'; it takes pipeline, value"),
        ("ping", {"transaction": "t", "verbose": 1},
         "ping takes no argument 'verbose'; it takes none (besides transaction)"),
    ]:
        out = json.loads(daemon.commands.handle(cmd.Request(name, json.dumps(body).encode(), "r")))
        assert out["status"] == "error" and out["error"] == error
    ok = json.loads(daemon.commands.handle(cmd.Request("ping", b'{"transaction": 1}', "r")))
    assert ok["status"] == "ok" and ok["transaction"] == 1
    tagged = b'{"schema": "akida_edge.request/1", "transaction": 2}'  # a request tagged like a payload
    assert json.loads(daemon.commands.handle(cmd.Request("ping", tagged, "r")))["status"] == "ok"


def test_set_threshold_range(daemon):
    cell = next(c for _, c in _table("## Commands") if D.backticked(c[0]) == ["set_threshold"])[1]
    lo, hi = (float(x) for x in re.search(r"\(([\d.e]+)–([\d.e]+)\)", cell).groups())
    for value in (-1e-3, hi * 1.001):
        with pytest.raises(cmd.CommandError, match="out of range"):
            daemon._cmd_set_threshold({"pipeline": "x", "value": value})
    for value in (lo, hi):  # in range: refused only because no pipeline runs
        with pytest.raises(cmd.CommandError, match="no running pipeline"):
            daemon._cmd_set_threshold({"pipeline": "x", "value": value})


def test_pipeline_commands_are_the_learning_commands():
    from akida_edge.pipelines import anomaly, camera, kws, vision

    for heading in ("### KWS pipeline commands", "### Gesture camera commands"):
        documented = [D.backticked(c[0])[0] for _, c in _table(heading)]
        assert documented == list(LEARNING_COMMANDS), heading
    assert hasattr(kws.KwsPipeline, "handle_command") and hasattr(vision.GesturePipeline, "handle_command")
    # "a pipeline without commands (camera in motion mode, anomaly)"
    assert "(camera in motion mode, anomaly)" in _flat("## Commands")
    assert not hasattr(camera.CameraPipeline, "handle_command")
    assert not hasattr(anomaly.AnomalyPipeline, "handle_command")
    kws_text = _flat("### KWS pipeline commands")
    assert f"a list of 1–{kws.MAX_CLIPS}" in kws_text
    assert f"at most {kws.MAX_UPLOAD_BYTES // 1024} KiB decoded" in kws_text
    words = {1: "the one", 2: "the two", 3: "the three"}
    assert f"{words[vision.LEARN_WINDOWS - 1]} before it" in _flat("### Gesture camera commands")


def test_detection_keys(daemon):
    runner = SimpleNamespace(cfg=SimpleNamespace(labels=[], name="kws"), threshold=0.8,
                             meter=SimpleNamespace(detections=0))
    daemon.record_detection(runner, Detection("yes", 0.93, 1761234567123, "keyword", {}))
    (msg,) = daemon.outbox.pending()
    published = json.loads(msg.payload)
    example = json.loads("\n".join(ln.text for ln in D.code_block_lines(DOC, ("json",))))
    documented = {k for k in example if not k.startswith("...")}
    assert set(published) == documented
    assert published["schema"] == example["schema"]
    assert msg.topic == str(daemon.topics.detection("kws"))


def _possible_host_keys() -> set[str]:
    """Every key `HostProbe.sample` may give (some only on machines that have the sensor)."""
    import inspect

    from akida_edge.mqtt.telemetry import HostProbe

    return set(re.findall(r'out\["(\w+)"\]', inspect.getsource(HostProbe.sample))) | {"host_figures"}


def test_telemetry_keys(daemon):
    from akida_edge.mqtt.telemetry import HostProbe, PipelineMeter

    meter = PipelineMeter()
    meter.add(Activity(inferences=2, latency_ms=(1.0, 2.0), events=10, synops=100, chip_energy_uj=5.0))
    daemon.runners = {"p": SimpleNamespace(meter=meter, status="online")}
    host = HostProbe()
    time.sleep(0.01)
    daemon.publish_telemetry(host, 1.0)
    (msg,) = daemon.outbox.pending()
    published = set(json.loads(msg.payload))
    text = _flat("## Telemetry payload")
    documented = {k.split(":")[0] for k in D.backticked(text)}  # `chip_figures: "estimated"`
    documented = {k for k in documented if re.fullmatch(r"[a-z_0-9]+", k)}  # not `[state] outbox_max_mb`
    assert published - documented == set(), f"{DOC}: telemetry keys published but not documented"
    possible = published | _possible_host_keys()
    assert documented - possible == set(), f"{DOC}: telemetry keys documented but never published"


def _bullet(head: str) -> tuple[set[str], set[str]]:
    """The field names a detection bullet of docs/mqtt.md lists after its `(kind...)` head: (always,
    added by an `end`)."""
    text = _flat("## Detection payload")
    start = text.index(f"- {head} (")
    stop = text.find(" - ", start + 2)  # the next bullet
    body = text[start:stop if stop > 0 else None]
    depth, cut = 0, 0
    for i, ch in enumerate(body):  # the end of the head's parentheses
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == ")" and depth == 0:
            cut = i + 1
            break
    fields = body[cut:]
    always, _, end = fields.partition("an `end` adds")

    def keys(part: str) -> set[str]:
        return {k for k in D.backticked(part) if re.fullmatch(r"[a-z_]+", k)} - {"ts", "start", "end"}

    return keys(always), keys(end)


def test_detection_fields_per_kind():
    """Keyword, gesture and motion detections carry the fields their bullets list (built by the
    pipelines' own code: `_detection` and `MotionDecoder`)."""
    from akida_edge.pipelines import camera, kws, vision
    from akida_edge.pipelines.compose import Encoded

    det = kws.KwsPipeline._detection(None, SimpleNamespace(label="yes", score=0.9, t_ms=500.0), 0)
    assert (set(det.fields), det.kind) == (_bullet("Keywords")[0], "keyword")
    det = vision.GesturePipeline._detection(
        None, SimpleNamespace(label="circle_cw", score=0.95, t_start_ms=100.0, t_end_ms=900.0), 0)
    assert (set(det.fields), det.kind) == (_bullet("Camera gestures")[0], "gesture")
    decoder = camera.MotionDecoder(threshold=1.0, pixels=4, window_ms=100.0, release_ratio=0.5,
                                   hold_ms=0.0, state_interval_s=1.0)
    busy = np.zeros((2, 2, 1), np.uint8)
    busy[0, 1, 0] = 3
    found = []
    for k, events in enumerate([40, 40, 0, 0, 0, 0]):
        dets, _ = decoder(Encoded(k * 50_000, events, None, {"ranked_places": events}),
                          busy if events else None, k * 50)
        found += dets
    start, end = (d for d in found if d.kind == "motion")
    always, at_end = _bullet("Camera motion")
    assert set(start.fields) == always  # a busy motion map: with its centroid
    assert set(end.fields) == (always | at_end) - {"centroid_x", "centroid_y"}  # a still one: without


def _client_lines() -> list[tuple[D.Line, str, list[str], str | None]]:
    """The `mosquitto_sub` / `mosquitto_pub` lines of the doc's bash blocks: (line, program, topics,
    message)."""
    import shlex

    out = []
    for ln in D.code_block_lines(DOC):
        tokens = shlex.split(ln.text, comments=True)
        if tokens and tokens[0] in ("mosquitto_sub", "mosquitto_pub"):
            topics = [tokens[i + 1] for i, t in enumerate(tokens) if t == "-t"]
            message = next((tokens[i + 1] for i, t in enumerate(tokens) if t == "-m"), None)
            out.append((ln, tokens[0], topics, message))
    return out


def test_try_it_commands_match_the_shipped_config(daemon):
    """"Try it": the topics are the shipped config's (prefix, node), the requests name a command the
    daemon has, their payloads are JSON objects, and a `pipeline` request names a pipeline of the
    shipped config that takes the command (a newcomer copies these lines as they are)."""
    from akida_edge.config import load_config
    from akida_edge.mqtt.topics import matches

    shipped = load_config(str(D.ROOT / "config.toml"))
    t = Topics(shipped.mqtt.prefix, shipped.device.id)
    pipelines = {p.name: p for p in shipped.pipelines}
    lines = _client_lines()
    assert {prog for _, prog, _, _ in lines} == {"mosquitto_sub", "mosquitto_pub"}
    published = [str(x) for x in (t.status, t.telemetry, t.detection("kws"), t.response("ping"), t.discovery)]
    for ln, prog, topics, message in lines:
        assert topics, f"{ln.where}: no -t topic"
        if prog == "mosquitto_sub":
            for f in topics:
                assert any(matches(f, x) for x in published), f"{ln.where}: {f} matches nothing published"
            continue
        (topic,) = topics
        name = t.command_name(topic)  # what the daemon reads off a request's topic
        assert name is not None, f"{ln.where}: {topic} is not a request topic of {t.base}"
        assert name in daemon.commands.handlers, f"{ln.where}: no command {name!r}"
        args = json.loads(message)
        assert isinstance(args, dict), ln.where
        if name == "set_threshold":
            assert args["pipeline"] in pipelines, ln.where
            with pytest.raises(cmd.CommandError, match="no running pipeline"):  # in range, valid
                daemon._cmd_set_threshold(args)
        if name == "pipeline":
            p = pipelines[args["pipeline"]]
            assert p.type == "kws" or p.options.get("mode") == "gestures", f"{ln.where}: takes no commands"
            assert args["command"] in LEARNING_COMMANDS, ln.where
