"""A state directory given as a file (session-10 audit): `--state fleet.state` (the exported file
instead of the folder) read as an empty directory, so `state list` said "no learned state in
fleet.state", `kws learned` "no learned words" and classify ran without the learned words; now one
line says the path is a file and what to give instead."""

from __future__ import annotations

import pytest

from akida_edge import cli
from akida_edge.errors import StateError
from akida_edge.state import ENV_VAR, StateStore
from akida_edge.statefile import StateEntry

pytestmark = pytest.mark.unit


def test_a_state_path_that_is_a_file_is_named_as_such(tmp_path, capsys):
    device = tmp_path / "device"
    StateStore(device).save(StateEntry(name="notes", model_hash="ab" * 16, extra={"k": 1}))
    exported = tmp_path / "fleet.state"
    assert cli.main(["state", "export", str(exported), "--state", str(device)]) == 0
    capsys.readouterr()
    store = StateStore(exported)
    for call in (store.names, lambda: store.load("notes")):
        with pytest.raises(StateError) as err:
            call()
        assert f"{exported} is a file, not a state directory" in str(err.value)
        assert "--state DIR" in str(err.value) and ENV_VAR in str(err.value)
    assert cli.main(["state", "list", "--state", str(exported)]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1
    assert lines[0].startswith(f"akida-edge: error: {exported} is a file, not a state directory")
    # the folder itself still lists its state, and a folder not made yet is simply empty
    assert [e.extra for e in [StateStore(device).load("notes")]] == [{"k": 1}]
    assert StateStore(tmp_path / "not-yet").names() == []
    assert StateStore(tmp_path / "not-yet").load("x") is None


def test_state_list_shows_the_states_kept_for_other_models(tmp_path, capsys):
    """Before: after a model upgrade `state list` showed only the new model's state, as if the
    words learned on the old one were gone; they are kept (`<name>.<hash12>.learned`), and listed."""
    import json

    store = StateStore(tmp_path)
    old, new = "ab" * 16, "cd" * 16
    store.save(StateEntry(name="kws", model_hash=old, extra={"k": 1}))
    store.save(StateEntry(name="kws", model_hash=new, extra={"k": 2}))  # the upgrade keeps the old one
    kept = store.kept_path("kws", old)
    assert store.kept_paths() == [kept]
    assert cli.main(["state", "list", "--state", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and f"model {new[:12]}" in lines[0] and "kept" not in lines[0]
    assert f"model {old[:12]} (kept as {kept.name} for that model; not the current state)" in lines[1]
    assert cli.main(["state", "list", "--state", str(tmp_path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["model_hash"], r.get("kept")) for r in rows] == [(new[:12], None), (old[:12], kept.name)]


def test_state_list_exits_1_when_a_state_cannot_be_used(tmp_path, capsys):
    """Session-14 audit: `state list` printed a corrupt state's problem and exited 0, as for a healthy
    device (a script checking a fleet could not tell); the good states are still listed."""
    store = StateStore(tmp_path)
    store.save(StateEntry(name="kws", model_hash="ab" * 16))
    store.save(StateEntry(name="anomaly", model_hash="cd" * 16))
    path = store.path("anomaly")
    path.write_bytes(path.read_bytes()[:-5])  # cut short
    assert cli.main(["state", "list", "--state", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith(f"anomaly: learned state {path} is unusable: checksum mismatch")
    assert lines[1].startswith("kws: revision 1")
    assert cli.main(["state", "list", "--state", str(tmp_path), "--json"]) == 1
    capsys.readouterr()
    path.unlink()
    assert cli.main(["state", "list", "--state", str(tmp_path)]) == 0
