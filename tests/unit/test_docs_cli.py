"""The command lines the docs show are ones the real `akida-edge` parser accepts (argparse only: nothing
runs). Docs: README.md, docs/kws.md and docs/vision.md ("Use"), docs/config.md, docs/mqtt.md,
docs/mapping.md, deploy/akida-edge.service and the docstrings of `akida_edge/commands/*.py`.

Code-block lines are whole commands and must parse (the notation `[--json]`, `a|b|c` and number
placeholders expanded, `tests/docs_text.py`); inline spans such as `akida-edge kws learn` are names:
their command path and every `--flag` they give must exist.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import pkgutil
import re

import docs_text as D
import pytest

from akida_edge import commands
from akida_edge.cli import build_parser

pytestmark = pytest.mark.unit

#: Docs with whole commands in ```bash blocks.
BLOCK_DOCS = ("README.md", "docs/kws.md", "docs/vision.md", "docs/config.md", "docs/mqtt.md",
              "docs/mapping.md")
#: Docs whose inline `akida-edge ...` spans name commands (and docs/kws.md's "Use"; the rest of it
#: and docs/kws-learning.md are records of experiments, not usage: left out).
SPAN_DOCS = ("README.md", "docs/config.md", "docs/mqtt.md", "docs/vision.md", "docs/mapping.md")


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser()


def _subparsers(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def parse_error(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """None when `argv` parses, else argparse's message."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = parser.parse_args(argv)
    except SystemExit:
        return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else "exit"
    if getattr(args, "func", None) is None:
        return "no command"
    return None


def name_error(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """For an inline mention: its command path exists and so does every `--flag` it gives."""
    p, path = parser, []
    for tok in argv:
        subs = _subparsers(p)
        if not subs or tok.startswith("-"):
            break
        if tok not in subs:
            return f"no command {' '.join([*path, tok])!r}"
        p, path = subs[tok], [*path, tok]
    if not path:
        return "no command"
    for tok in argv:
        flag = tok.split("=", 1)[0]
        if flag.startswith("--") and flag not in p._option_string_actions:
            return f"{' '.join(path)} has no option {flag}"
    return None


def block_commands() -> list[tuple[D.Line, list[str]]]:
    out = []
    for rel in BLOCK_DOCS:
        for ln in D.code_block_lines(rel):
            out += [(ln, seg) for seg in D.command_segments(ln.text)]
    for i, text in enumerate(D.read("deploy/akida-edge.service").splitlines(), 1):
        if "bin/akida-edge" in text:  # the unit's comments also name the service and user akida-edge
            ln = D.Line("deploy/akida-edge.service", i, text.lstrip("# "))
            out += [(ln, seg) for seg in D.command_segments(ln.text)]
    return out


def test_doc_code_blocks_hold_commands():
    """The extraction finds the commands (a parser change that found none would pass vacuously)."""
    found = {ln.file for ln, _ in block_commands()}
    assert {"README.md", "docs/kws.md", "docs/vision.md", "deploy/akida-edge.service"} <= found


def test_every_command_line_in_the_docs_parses(parser):
    bad = []
    for ln, tokens in block_commands():
        for argv in D.expand(tokens):
            problem = parse_error(parser, argv)
            if problem:
                bad.append(f"{ln.where}: akida-edge {' '.join(argv)}: {problem}")
    assert not bad, "\n".join(bad)


def test_every_command_named_inline_exists(parser):
    bad, seen = [], 0
    pattern = r"(\S*/)?akida-edge "
    spans = [ln for rel in SPAN_DOCS for ln in D.inline_spans(rel, pattern)]
    spans += D.inline_spans("docs/kws.md", pattern, D.section("docs/kws.md", "## Use"))
    for ln in spans:
        for tokens in D.command_segments(ln.text):
            for argv in D.expand(tokens):
                seen += 1
                problem = name_error(parser, argv)
                if problem:
                    bad.append(f"{ln.where}: `{ln.text}`: {problem}")
    assert seen > 10
    assert not bad, "\n".join(bad)


def test_readme_shows_every_command(parser):
    """Each top-level command appears in a README code block."""
    shown = {tokens[0] for ln, tokens in block_commands() if ln.file == "README.md" and tokens}
    missing = sorted(set(_subparsers(parser)) - shown)
    assert not missing, f"README.md's code blocks show no {missing}"


def _command_modules():
    for info in pkgutil.iter_modules(commands.__path__):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"akida_edge.commands.{info.name}")


def test_command_docstrings_name_real_commands(parser):
    """Every `akida-edge ...` span of a command module's docstring names a real command and flags; a
    summary of actions (`akida-edge kws classify|detect|...`) lists them all."""
    bad = []
    for module in _command_modules():
        doc = module.__doc__ or ""
        for m in re.finditer(r"(?<!`)`(akida-edge [^`]+)`", doc):
            tokens = D.command_segments(m.group(1))[0]
            for argv in D.expand(tokens):
                problem = name_error(parser, argv)
                if problem:
                    bad.append(f"{module.__name__}: `{m.group(1)}`: {problem}")
            if len(tokens) > 1 and "|" in tokens[1] and not tokens[1].startswith("["):
                listed = set(tokens[1].split("|"))
                actions = set(_subparsers(_subparsers(parser)[tokens[0]]))
                if listed != actions:
                    bad.append(f"{module.__name__}: `{m.group(1)}` lists {sorted(listed)}, the command "
                               f"has {sorted(actions)}")
    assert not bad, "\n".join(bad)


def test_readme_python_example_builds_its_model():
    """README's Python example: every `ae.` name exists, and its model-building lines run (the
    rest needs weights and inputs and compiles the kernels: out of a unit test's budget)."""
    import akida_edge as ae

    lines = D.code_block_lines("README.md", ("python",))
    assert lines, "README.md has no Python example"
    code = "\n".join(ln.text for ln in lines)
    missing = sorted({n for n in re.findall(r"\bae\.(\w+)", code) if not hasattr(ae, n)})
    assert not missing, f"README.md's Python example uses ae.{missing}, which akida_edge lacks"
    build = code.split("m.layers[0].set_variable", 1)[0]
    device = next(ln for ln in code.splitlines() if ln.startswith("dev = "))
    scope: dict = {}
    exec(compile(build + "\n" + device, "README.md", "exec"), scope)  # noqa: S102 - the README's own
    assert len(scope["m"].layers) == build.count("m.add(")
    assert scope["dev"].soc.power_measurement_enabled is True
    used = set(re.findall(r"\bm2?\.(\w+)", code))  # m.map, m.save, m.statistics...
    missing = sorted(n for n in used if not hasattr(scope["m"], n))
    assert not missing, f"README.md's Python example uses Model.{missing}, which Model lacks"


def test_vision_use_states_the_segmentation_defaults():
    """docs/vision.md ("Use") gives `SegmentParams`' defaults, which `--threshold` and the stream use."""
    from akida_edge.apps.vision.segment import SegmentParams

    p = SegmentParams()
    text = " ".join(" ".join(ln.text for ln in D.section("docs/vision.md", "## Use")).split())
    numbers = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    fractions = {0.5: "half", 0.25: "a quarter"}
    assert f"`--threshold` sets a gesture's minimum score (default {p.threshold:g})" in text
    assert f"The probabilities of the last {numbers[p.smooth]} windows are averaged" in text
    assert f"≥ the threshold ({p.threshold:g})" in text
    assert f"above {fractions[p.release_ratio]} the threshold" in text
    assert f"for {p.refractory_ms:g} ms no other gesture fires" in text


def test_anomaly_score_fields_are_the_docstrings():
    """`akida-edge anomaly score --json`: the fields its module docstring lists are those
    `score_values` gives (with a stand-in detector: the fields, not the model, are under test)."""
    from types import SimpleNamespace

    import numpy as np

    from akida_edge.commands import anomaly

    doc = anomaly.__doc__
    bullet = doc[doc.index("* ``score"):doc.index("* ``watch")].split("—", 1)[1]
    listed = set(re.findall(r"``(\w+)``", bullet))
    scores = np.array([0.1, 0.9, 0.95, 0.2, 0.1])
    det = SimpleNamespace(score=lambda v: scores, is_anomaly=lambda s: s > 0.5, threshold=0.5)
    assert listed == {"file", *anomaly.score_values(det, np.zeros((5, 1, 4)))}


def _json_keys(text: str, after: str) -> set[str]:
    """The keys of the `{"a", "b"}` set written after `after` in `text`."""
    tail = text.split(after, 1)[1]
    return set(re.findall(r'"(\w+)"', tail[tail.index("{"):tail.index("}")]))


def test_detect_and_classify_json_lines_are_the_docs(capsys):
    """docs/kws.md's `detect --json` and docs/vision.md's `classify --json` objects are what the
    commands print (their printing functions, fed a detection)."""
    from types import SimpleNamespace

    from akida_edge.apps.vision.segment import Gesture
    from akida_edge.commands import kws, vision

    kws_use = " ".join(ln.text for ln in D.section("docs/kws.md", "## Use"))
    kws._print_detection(SimpleNamespace(json=True), "long.wav",
                         SimpleNamespace(label="yes", t_ms=1234.5, score=0.91))
    assert set(json.loads(capsys.readouterr().out)) == _json_keys(kws_use, "`--json` gives")
    vision_use = " ".join(ln.text for ln in D.section("docs/vision.md", "## Use"))
    line = vision.gesture_line("clip.mp4", Gesture("circle_cw", 100.0, 900.0, 0.97), True)
    assert set(json.loads(line)) == _json_keys(vision_use, "with `--json`, one")


def test_mapping_usage_names_real_arguments():
    """docs/mapping.md's usage: `model.map(...)` takes `hw_only` and the modes it names; the chip has
    the NP count it states."""
    import inspect

    from akida_edge.engine import mapping
    from akida_edge.engine.device import AKD1000

    text = " ".join(D.read("docs/mapping.md").split())
    params = inspect.signature(mapping.map_model).parameters
    named = re.findall(r"`(\w+)=\w+`", text)  # `hw_only=True`
    assert named and all(n in params for n in named), f"docs/mapping.md: {named}; map takes {list(params)}"
    modes = re.search(r"Modes: `(\w+)` \([^)]*\) and `(\w+)`", text).groups()
    assert set(modes) == set(mapping.MODES)
    assert f"When the {AKD1000().np_count} NPs run out" in text
