"""The systemd unit (deploy/akida-edge.service) and its install steps agree with each other: the
kernel cache the steps warm is the one the unit reads, and the credential it loads is created."""

from __future__ import annotations

import re
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "akida-edge.service"


def _settings(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_the_warmed_kernel_cache_is_the_one_the_unit_uses():
    text = UNIT.read_text()
    s = _settings(text)
    env = dict(v.split("=", 1) for v in s["Environment"])
    cache = env["NUMBA_CACHE_DIR"]
    # writable under ProtectSystem=strict: inside the unit's CacheDirectory
    assert s["ProtectSystem"] == ["strict"]
    assert cache.startswith(f"/var/cache/{s['CacheDirectory'][0]}/")
    header = " ".join(line.lstrip("# ").rstrip("\\") for line in text.splitlines() if line.startswith("#"))
    warm = re.search(r"sudo -u (\S+) NUMBA_CACHE_DIR=(\S+)\s+\S+/python -m akida_edge\.warm", header)
    assert warm, "the install steps warm the kernels as the service user"
    assert warm.group(1) == s["User"][0] and warm.group(2) == cache


def test_the_loaded_credential_file_is_created_by_the_install_steps():
    text = UNIT.read_text()
    name, _, path = _settings(text)["LoadCredential"][0].partition(":")
    assert name == "mqtt_password"  # what akida_edge.config reads from $CREDENTIALS_DIRECTORY
    assert re.search(rf"install -m 0600 /dev/null {re.escape(path)}", text)
