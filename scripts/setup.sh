#!/usr/bin/env bash
# Sets up akida-edge on a fresh Debian/Ubuntu machine: system packages (when root), a virtual
# environment in .venv and the project in it. Safe to run again; it only installs what is missing.
#   bash scripts/setup.sh          runtime (the daemon, the apps, the CLI)
#   bash scripts/setup.sh --dev    runtime + test and benchmark tools
#   bash scripts/setup.sh --train  runtime + PyTorch CPU for the training recipes
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
for arg in "$@"; do
  case "$arg" in
    --dev) extras="${extras:+$extras,}dev" ;;
    --train) extras="${extras:+$extras,}train" ;;
    *) echo "setup.sh: unknown option $arg (use --dev and/or --train)" >&2; exit 2 ;;
  esac
done

apt_pkgs=(libportaudio2 mosquitto openssl espeak-ng sox chromium)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install these system packages first: ${missing[*]}" >&2
    echo "       e.g. sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
# Mosquitto is started per test on a free port, never as the system service the package enables.
if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
  systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
if [ "$extras" = "" ] || [[ "$extras" != *train* ]]; then
  spec=".${extras:+[$extras]}"
else
  # PyTorch CPU build: pin the version that installs from local wheels where available.
  .venv/bin/python -m pip install -q "torch==2.13.0" || .venv/bin/python -m pip install -q torch
  spec=".[$extras]"
fi
echo "setup: installing akida-edge $spec into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec"
