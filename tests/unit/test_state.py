"""Per-device learned state (state.py, statefile.py): atomic, versioned, validated, shareable."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from state_files import as_newer_format

import akida_edge as ae
from akida_edge import state as S
from akida_edge import statefile
from akida_edge.errors import StateError

pytestmark = pytest.mark.unit


def model(n_in: int = 32, seed: int = 0) -> ae.Model:
    m = ae.Model([ae.InputData(input_shape=(1, 1, n_in), input_bits=1),
                  ae.FullyConnected(units=8, weights_bits=1, activation=False)])
    m.compile(num_weights=8, num_classes=2, learning_competition=0.1, seed=seed)
    return m


def learned(rng: np.random.Generator, n: int = 6, n_in: int = 32) -> ae.Model:
    m = model(n_in)
    m.fit((rng.random((n, 1, 1, n_in)) < 0.4).astype(np.uint8), rng.integers(0, 2, n))
    return m


def test_state_dir_resolution_order(tmp_path, monkeypatch):
    monkeypatch.delenv(S.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert S.resolve_state_dir() == tmp_path / "xdg" / "akida-edge" / "state"
    assert S.resolve_state_dir(configured=tmp_path / "cfg") == tmp_path / "cfg"
    monkeypatch.setenv(S.ENV_VAR, str(tmp_path / "env"))
    assert S.resolve_state_dir(configured=tmp_path / "cfg") == tmp_path / "env"
    assert S.resolve_state_dir(tmp_path / "cli", configured=tmp_path / "cfg") == tmp_path / "cli"
    assert S.StateStore().directory == tmp_path / "env"


def test_save_load_round_trip_with_app_data(tmp_path, rng):
    m = learned(rng)
    store = S.StateStore(tmp_path)
    calib = rng.normal(size=(3, 4)).astype(np.float32)
    path = store.save_model("kws", m, extra={"labels": ["yes", "backward"]}, arrays={"calib": calib})
    assert path == tmp_path / "kws.learned" and store.names() == ["kws"]
    fresh = model(seed=123)  # same backbone, other random weights
    entry = store.load_into("kws", fresh)
    assert entry is not None and entry.revision == 1 and not entry.warnings
    assert fresh.learning.digest() == m.learning.digest()
    np.testing.assert_array_equal(fresh.layers[-1].get_variable("weights"),
                                  m.layers[-1].get_variable("weights"))
    assert entry.extra == {"labels": ["yes", "backward"]}
    np.testing.assert_array_equal(entry.arrays["calib"], calib)
    store.save_model("kws", m)
    assert store.load("kws").revision == 2
    _, (bak,) = statefile.read(store.backup_path("kws"))
    assert bak.revision == 1


def test_missing_state_is_none(tmp_path):
    assert S.StateStore(tmp_path / "nothing").load_into("kws", model()) is None


def test_interrupted_write_leaves_the_old_file_intact(tmp_path, rng, monkeypatch):
    store = S.StateStore(tmp_path)
    old = learned(rng)
    store.save_model("kws", old)
    before = (tmp_path / "kws.learned").read_bytes()

    def half_then_fail(fh, data):
        fh.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(statefile, "_write_all", half_then_fail)
    with pytest.raises(StateError, match=r"No space.*free disk space"):
        store.save_model("kws", learned(rng, n=9))
    assert (tmp_path / "kws.learned").read_bytes() == before
    # no temporary file left (".lock" is the store's advisory lock file)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "kws.learned"]


def test_process_killed_mid_save_keeps_the_old_state(tmp_path, rng):
    store = S.StateStore(tmp_path)
    old = learned(rng)
    store.save_model("kws", old)
    before = (tmp_path / "kws.learned").read_bytes()
    script = textwrap.dedent(f"""
        import os
        import numpy as np
        import akida_edge as ae
        from akida_edge import state
        m = ae.Model([ae.InputData(input_shape=(1, 1, 32), input_bits=1),
                      ae.FullyConnected(units=8, weights_bits=1, activation=False)])
        m.compile(num_weights=8, num_classes=2, seed=1)
        m.fit(np.ones((1, 1, 1, 32), np.uint8), 1)
        os.fsync = lambda fd: os._exit(9)  # the power goes out right after the data was written
        state.StateStore({str(tmp_path)!r}).save_model("kws", m)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    assert (tmp_path / "kws.learned").read_bytes() == before
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())  # the crash left its debris
    assert store.names() == ["kws"]
    fresh = model()
    store.load_into("kws", fresh)
    assert fresh.learning.digest() == old.learning.digest()


def corrupt(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip_payload", "flip_header", "truncate", "garbage"])
def test_corrupt_file_is_a_clear_state_error(tmp_path, rng, damage):
    store = S.StateStore(tmp_path)
    path = store.save_model("kws", learned(rng))
    size = path.stat().st_size
    if damage == "flip_payload":
        corrupt(path, size - 40)
    elif damage == "flip_header":
        corrupt(path, len(statefile.MAGIC) + 10)
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[: size // 2])
    else:
        path.write_bytes(b"\x00" * 100)
    with pytest.raises(StateError, match="kws.learned is unusable"):
        statefile.read(path)
    with pytest.raises(StateError, match="no backup"):
        store.load("kws")


def test_corruption_falls_back_to_the_backup(tmp_path, rng):
    store = S.StateStore(tmp_path)
    first = learned(rng)
    store.save_model("kws", first)
    store.save_model("kws", learned(rng, n=10))
    path = store.path("kws")
    corrupt(path, path.stat().st_size - 50)
    damaged = path.read_bytes()
    fresh = model()
    entry = store.load_into("kws", fresh)
    assert entry.revision == 1 and any("checksum" in w for w in entry.warnings)
    assert fresh.learning.digest() == first.learning.digest()
    assert (tmp_path / "kws.learned.corrupt").read_bytes() == damaged  # kept for inspection
    statefile.read(path)  # the current file is good again
    store.save_model("kws", fresh)  # and saving rotates the good state, not the corrupt one
    _, (bak,) = statefile.read(store.backup_path("kws"))
    assert bak.revision == 1


def test_state_of_another_model_is_kept_and_reported(tmp_path, rng):
    store = S.StateStore(tmp_path)
    old_model = learned(rng)
    store.save_model("kws", old_model)
    old_bytes = store.path("kws").read_bytes()
    new_model = model(n_in=40)  # a new backbone: another feature size
    with pytest.raises(S.IncompatibleStateError, match="kept unused"):
        store.load_into("kws", new_model)
    assert store.path("kws").read_bytes() == old_bytes  # not deleted, not overwritten
    new_model.fit(np.ones((1, 1, 1, 40), np.uint8), 0)
    store.save_model("kws", new_model)
    old_hash = statefile.read(store.kept_path("kws", ae_hash(old_model)))[1][0].model_hash
    assert old_hash == ae_hash(old_model)
    assert store.kept_path("kws", old_hash).read_bytes() == old_bytes
    assert store.load("kws", ae_hash(new_model)).revision == 1
    back = model()
    entry = store.load_into("kws", back)  # rolling back the model finds its kept state
    assert back.learning.digest() == old_model.learning.digest()
    assert any("another model" in w for w in entry.warnings)


def ae_hash(m: ae.Model) -> str:
    from akida_edge.engine.learning_state import backbone_hash

    return backbone_hash(m)


def test_export_import_shares_state_as_one_file(tmp_path, rng):
    device_a = S.StateStore(tmp_path / "a")
    kws, anomaly = learned(rng), learned(rng, n=3)
    device_a.save_model("kws", kws, extra={"labels": ["a", "b"]})
    device_a.save_model("anomaly", anomaly, arrays={"scores": np.arange(5.0)})
    bundle = device_a.export(tmp_path / "fleet.state")
    kind, entries = statefile.read(bundle)
    assert kind == "export" and sorted(e.name for e in entries) == ["anomaly", "kws"]
    device_b = S.StateStore(tmp_path / "b")
    assert device_b.import_file(bundle, names=["kws"]) == ["kws"]
    assert device_b.names() == ["kws"]
    assert sorted(device_b.import_file(bundle)) == ["anomaly", "kws"]
    target = model()
    entry = device_b.load_into("kws", target)
    assert target.learning.digest() == kws.learning.digest() and entry.extra == {"labels": ["a", "b"]}
    np.testing.assert_array_equal(device_b.load("anomaly").arrays["scores"], np.arange(5.0))
    with pytest.raises(StateError, match="no state named"):
        device_b.import_file(bundle, names=["vision"])
    with pytest.raises(StateError, match="no learned state named"):
        device_a.export(tmp_path / "x.state", names=["vision"])
    corrupt(bundle, bundle.stat().st_size - 33)
    with pytest.raises(StateError, match="checksum"):
        device_b.import_file(bundle)


def test_newer_format_version_asks_for_an_upgrade(tmp_path):
    header = json.dumps({"format": "akida-edge-state", "format_version": statefile.FORMAT_VERSION + 1,
                         "entries": []}).encode()
    body = statefile.MAGIC + struct.pack("<I", len(header)) + header
    path = tmp_path / "kws.learned"
    path.write_bytes(body + hashlib.sha256(body).digest())
    with pytest.raises(StateError, match="upgrade akida-edge"):
        statefile.read(path)


def test_a_state_of_a_newer_akida_edge_is_neither_replaced_nor_overwritten(tmp_path, rng):
    """Session-14 audit: after a downgrade, a state file of a newer format version was taken for a
    corrupt one: moved aside as .corrupt and replaced by its older backup (the words learned last
    gone when the newer version came back), and a save wrote over it."""
    store = S.StateStore(tmp_path)
    store.save_model("kws", learned(rng))
    store.save_model("kws", learned(rng, n=10))
    path, bak = store.path("kws"), store.backup_path("kws")
    newer, older = as_newer_format(path), bak.read_bytes()
    with pytest.raises(statefile.NewerStateError, match=r"newer akida-edge .*; upgrade akida-edge"):
        store.load_into("kws", model())
    with pytest.raises(statefile.NewerStateError, match="it is not overwritten"):
        store.save_model("kws", learned(rng))
    assert path.read_bytes() == newer and bak.read_bytes() == older
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "kws.learned", "kws.learned.bak"]  # no .corrupt, no kept copy


def test_invalid_learning_state_is_rejected(tmp_path, rng):
    entry = statefile.StateEntry(name="kws", model_hash="0" * 64, learning=learned(rng).learning.copy())
    entry.learning.weights[0, 0] ^= 1  # one neuron no longer holds num_weights ones
    path = tmp_path / "kws.learned"
    path.write_bytes(statefile.encode([entry]))
    with pytest.raises(StateError, match="num_weights"):
        statefile.read(path)


@pytest.mark.parametrize("name", ["", "../x", "a.b", "x" * 65, 3])
def test_bad_state_names(tmp_path, name):
    with pytest.raises(StateError, match="state name"):
        S.StateStore(tmp_path).path(name)



def test_cli_lists_exports_and_imports(tmp_path, rng, capsys):
    from akida_edge.cli import main

    S.StateStore(tmp_path / "a").save_model("kws", learned(rng))
    assert main(["state", "list", "--state", str(tmp_path / "a"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["name"] == "kws" and row["revision"] == 1 and row["neurons_learned"] > 0
    bundle = tmp_path / "fleet.state"
    assert main(["state", "export", str(bundle), "--state", str(tmp_path / "a")]) == 0
    assert main(["state", "import", str(bundle), "--state", str(tmp_path / "b")]) == 0
    assert S.StateStore(tmp_path / "b").names() == ["kws"]
    capsys.readouterr()
    assert main(["state", "import", str(tmp_path / "missing.state"), "--state", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("akida-edge: error: cannot read learned state") and err.count("\n") == 1


def test_unwritable_targets_are_a_clear_state_error(tmp_path, rng):
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    with pytest.raises(StateError, match=rf"{a_file} is a file, not a directory"):
        S.StateStore(a_file).save_model("kws", learned(rng))
    store = S.StateStore(tmp_path / "a")
    store.save_model("kws", learned(rng))
    target = tmp_path / "exports"
    target.mkdir()
    with pytest.raises(StateError, match=rf"{target} is a directory, give a file path"):
        store.export(target)
    assert list(target.iterdir()) == []  # no temporary file left behind


def test_cli_reports_an_unwritable_state_in_one_line(tmp_path, rng, capsys):
    from akida_edge.cli import main

    S.StateStore(tmp_path / "a").save_model("kws", learned(rng))
    bundle = tmp_path / "fleet.state"
    assert main(["state", "export", str(bundle), "--state", str(tmp_path / "a")]) == 0
    a_file = tmp_path / "plain"
    a_file.write_text("x")
    capsys.readouterr()
    assert main(["state", "import", str(bundle), "--state", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("akida-edge: error: cannot write learned state") and err.count("\n") == 1
    assert main(["state", "export", str(tmp_path), "--state", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and err.count("\n") == 1


def test_missing_current_file_restores_the_backup(tmp_path, rng):
    store = S.StateStore(tmp_path)
    first = learned(rng)
    store.save_model("kws", first)
    store.save_model("kws", learned(rng, n=10))
    store.path("kws").unlink()
    entry = store.load("kws")
    assert entry.revision == 1 and any("missing" in w for w in entry.warnings)
    assert store.path("kws").exists() and store.names() == ["kws"]
    store.backup_path("kws").write_bytes(b"junk")
    store.path("kws").unlink()
    with pytest.raises(StateError, match="missing and its backup is unusable"):
        store.load("kws")


def test_concurrent_saves_lose_no_revision(tmp_path, rng):
    """Two threads (a pipeline and an MQTT command) saving at once: the lock serializes them, so
    every save reads the revision the previous one wrote."""
    import threading

    m = learned(rng)
    entry_of = lambda: S.StateEntry(name="kws", model_hash=ae_hash(m),  # noqa: E731
                                    learning=m.learning.copy())
    store_a, store_b = S.StateStore(tmp_path), S.StateStore(tmp_path)
    saves = 25

    def writer(store: S.StateStore) -> None:
        for _ in range(saves):
            store.save(entry_of())

    threads = [threading.Thread(target=writer, args=(s,)) for s in (store_a, store_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store_a.load("kws").revision == 2 * saves
    assert (tmp_path / ".lock").exists() and store_a.names() == ["kws"]


def test_unwritable_directory_still_loads_the_backup(tmp_path, rng, monkeypatch):
    store = S.StateStore(tmp_path)
    first = learned(rng)
    store.save_model("kws", first)
    store.save_model("kws", learned(rng, n=10))
    path = store.path("kws")
    corrupt(path, path.stat().st_size - 50)
    damaged = path.read_bytes()

    def read_only(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(statefile, "preserve_copy", read_only)
    fresh = model()
    entry = store.load_into("kws", fresh)
    assert entry.revision == 1 and fresh.learning.digest() == first.learning.digest()
    assert any("could not write" in w and "Permission denied" in w for w in entry.warnings)
    assert path.read_bytes() == damaged  # nothing was repaired, nothing was lost


def test_cli_export_keeps_an_existing_file_unless_forced(tmp_path, rng, capsys):
    """Session-14 audit: `state export fleet.state` on device B wrote over the fleet.state copied from
    device A to be imported (A's words gone, exit 0); `init-config` already refused so."""
    from akida_edge.cli import main

    S.StateStore(tmp_path / "a").save_model("kws", learned(rng))
    S.StateStore(tmp_path / "b").save_model("anomaly", learned(rng))
    bundle = tmp_path / "fleet.state"
    assert main(["state", "export", str(bundle), "--state", str(tmp_path / "a")]) == 0
    from_a = bundle.read_bytes()
    capsys.readouterr()
    assert main(["state", "export", str(bundle), "--state", str(tmp_path / "b")]) == 2
    assert capsys.readouterr().err == (f"akida-edge: error: {bundle}: exists; choose another name, or add "
                                       "--force to replace it\n")
    assert bundle.read_bytes() == from_a
    assert main(["state", "export", str(bundle), "--force", "--state", str(tmp_path / "b")]) == 0
    assert [e.name for e in statefile.read(bundle)[1]] == ["anomaly"]


@pytest.mark.parametrize("name", ["kws.learned", "fleet.state"])
def test_cli_export_refuses_a_file_in_the_state_directory(tmp_path, rng, capsys, name):
    """Session-27 audit: `state export --force S/kws.learned` replaced the live state with a bundle
    (kws: "holds 2 entries, expected one"); any file there is the store's to name."""
    from akida_edge.cli import main

    store = S.StateStore(tmp_path / "s")
    store.save_model("kws", learned(rng))
    store.save_model("anomaly", learned(rng))
    before = {p.name: p.read_bytes() for p in (tmp_path / "s").iterdir() if p.is_file()}
    state = str(tmp_path / "s")
    assert main(["state", "export", str(tmp_path / "s" / name), "--force", "--state", state]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is in the state directory" in err and "outside it" in err
    assert {p.name: p.read_bytes() for p in (tmp_path / "s").iterdir() if p.is_file()} == before


def test_a_copy_onto_a_hard_link_of_itself_leaves_no_temporary(tmp_path):
    """Session-27 audit: after a damaged state was restored from its backup by a hard link, the next
    save's backup copy renamed a link onto another link of the same file, which does nothing, and
    left `.kws.learned.bak.*.tmp` behind (the save after it removed it as "an interrupted save")."""
    src, dst = tmp_path / "kws.learned", tmp_path / "kws.learned.bak"
    src.write_bytes(b"state")
    os.link(src, dst)
    statefile.preserve_copy(src, dst)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kws.learned", "kws.learned.bak"]
    assert dst.read_bytes() == b"state"
