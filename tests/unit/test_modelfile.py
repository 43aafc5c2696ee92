"""Model files: round trip, content hash, and real truncated / corrupted / foreign files."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

import akida_edge as ae
from akida_edge.engine import modelfile, zoo
from akida_edge.errors import ModelFileError

pytestmark = pytest.mark.unit


@pytest.fixture
def model(rng) -> ae.Model:
    m = zoo.dscnn_kws(rng)
    for layer in m.layers:
        n = layer.variables["threshold"].shape
        layer.set_variable("threshold", rng.integers(-1000, 1000, size=n))
        layer.set_variable("act_step", rng.integers(1, 64, size=n) / 16)
    return m


def test_round_trip_keeps_every_variable_and_the_hash(model, tmp_path):
    path = tmp_path / "kws.aem"
    assert model.save(str(path)) == str(path)
    back = ae.load_model(str(path))
    assert back.layer_names == model.layer_names
    for a, b in zip(model.layers, back.layers, strict=True):
        assert a.spec == b.spec
        assert a.variables.keys() == b.variables.keys()
        for name in a.variables:
            np.testing.assert_array_equal(a.variables[name], b.variables[name])
            assert a.variables[name].dtype == b.variables[name].dtype
    assert modelfile.model_hash(back) == modelfile.model_hash(model) == back.file_hash
    assert [p.name for p in tmp_path.iterdir()] == ["kws.aem"]  # no temporary left behind


def test_one_model_always_makes_the_same_bytes(model, tmp_path, monkeypatch):
    """No clock in the file: a model saved an hour later (or retrained to the same weights) has the
    same bytes, so a reproduction can be checked with `cmp`."""
    import time

    modelfile.save_model(model, tmp_path / "a.aem")
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    second = modelfile.save_model(model, tmp_path / "b.aem")
    assert (tmp_path / "a.aem").read_bytes() == (tmp_path / "b.aem").read_bytes()
    assert modelfile.load_model(second).layers[0].spec == model.layers[0].spec


def test_hash_follows_content(model):
    before = modelfile.model_hash(model)
    w = model.layers[1].get_variable("weights")
    w.flat[0] = -w.flat[0] if w.flat[0] else 1
    model.layers[1].set_variable("weights", w)
    assert modelfile.model_hash(model) != before


def test_extra_metadata_passes_through(model, tmp_path):
    extra = {"learned": {"classes": ["yes", "no"], "fits": 3}, "device": "edge-01"}
    path = tmp_path / "m.aem"
    modelfile.save_model(model, path, extra=extra)
    back = modelfile.load_model(path)
    assert back.metadata == extra
    back.save(str(tmp_path / "again.aem"))  # model.metadata is saved again by default
    assert modelfile.read_header(tmp_path / "again.aem")["extra"] == extra
    with pytest.raises(ModelFileError, match="JSON"):
        modelfile.save_model(model, tmp_path / "x.aem", extra={"bad": object()})


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_files_give_one_line(model, tmp_path, fraction):
    path = tmp_path / "m.aem"
    model.save(str(path))
    data = path.read_bytes()
    bad = tmp_path / "cut.aem"
    bad.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ModelFileError) as err:
        ae.load_model(str(bad))
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


def test_corrupted_bytes_are_detected(model, tmp_path, rng):
    path = tmp_path / "m.aem"
    model.save(str(path))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("variables/1/weights.npy")
    start = info.header_offset + 30 + len(info.filename)  # local header: 30 bytes + name
    for k in rng.integers(start, start + info.compress_size, size=5):
        bad = bytearray(data)
        bad[k] ^= 0xFF
        (tmp_path / "bad.aem").write_bytes(bytes(bad))
        with pytest.raises(ModelFileError, match="bad.aem"):
            ae.load_model(str(tmp_path / "bad.aem"))


def _rewrite(path, tmp_path, edit_header=None, members=None):
    out = tmp_path / "edited.aem"
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(out, "w") as w:
        for info in z.infolist():
            data = z.read(info)
            if info.filename == modelfile.HEADER and edit_header:
                header = json.loads(data)
                edit_header(header)
                data = json.dumps(header).encode()
            if members and info.filename in members:
                data = members[info.filename]
            w.writestr(info.filename, data)
    return out


def test_wrong_magic_future_version_and_tampering(model, tmp_path):
    path = tmp_path / "m.aem"
    model.save(str(path))
    cases = [
        (lambda h: h.update(magic="something-else"), "wrong magic"),
        (lambda h: h.update(format_version=modelfile.FORMAT_VERSION + 1), "upgrade akida-edge"),
        (lambda h: h["layers"][1]["params"].update(filters=32), "invalid model content|corrupt"),
        (lambda h: h["layers"][1].update(kind="Conv3D"), "unknown layer kind"),
        (lambda h: h["layers"][1]["params"].update(kernel_stride=[2, 2]), "hash mismatch|corrupt"),
        # session-27 audit: header entries of the wrong JSON type ended in an AttributeError traceback
        (lambda h: h.update(variables=[1]), "corrupt or truncated content"),
        (lambda h: h["layers"].__setitem__(1, ["Conv2D"]), "corrupt or truncated content"),
    ]
    for edit, message in cases:
        with pytest.raises(ModelFileError, match=message):
            ae.load_model(str(_rewrite(path, tmp_path, edit)))


def test_variables_are_validated_and_never_unpickled(model, tmp_path):
    path = tmp_path / "m.aem"
    model.save(str(path))
    member = "variables/1/weights.npy"
    shape = model.layers[1].variables["weights"].shape
    buf = io.BytesIO()
    np.save(buf, np.full(shape, 100, np.int8))  # outside the 4-bit range
    with pytest.raises(ModelFileError, match="outside"):
        ae.load_model(str(_rewrite(path, tmp_path, members={member: buf.getvalue()})))
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ModelFileError):
        ae.load_model(str(_rewrite(path, tmp_path, members={member: buf.getvalue()})))


def test_foreign_missing_and_directory_paths(tmp_path):
    text = tmp_path / "notes.aem"
    text.write_text("hello, not a model\n")
    empty_zip = tmp_path / "empty.aem"
    with zipfile.ZipFile(empty_zip, "w"):
        pass
    for path, message in [(text, "not an akida-edge model"), (empty_zip, "no header.json"),
                          (tmp_path / "missing.aem", "no such model file"),
                          (tmp_path, "is a directory")]:
        with pytest.raises(ModelFileError, match=message):
            ae.load_model(str(path))
    with pytest.raises(ModelFileError, match="without layers"):
        modelfile.save_model(ae.Model(), tmp_path / "empty-model.aem")
