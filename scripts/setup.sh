#!/usr/bin/env bash
# Sets up akida-edge on a fresh Debian/Ubuntu machine: system packages (when root), a virtual
# environment in .venv and the project in it. Safe to run again; it only installs what is missing.
#   bash scripts/setup.sh          runtime (the daemon, the apps, the CLI)
#   bash scripts/setup.sh --dev    runtime + test and benchmark tools
#   bash scripts/setup.sh --train  runtime + PyTorch CPU for the training recipes
# The runtime needs PortAudio, espeak-ng (the shipped config.toml's synthetic speech source says the
# keywords with it), sox (with espeak-ng: `kws learn --synthesize`) and python3-venv to create .venv:
# the daemon embeds its MQTT broker. Tests and benchmarks also use mosquitto, openssl, chromium,
# flite and festival (with three voices); --dev also installs mosquitto_sub/pub (docs/mqtt.md, "Try
# it"). Training synthesises its keyword data set with espeak-ng and flite (festival: the held-out
# synthesizer of the test split `other_synth`) and sox; --train also installs npm (if missing) to
# fetch the Kokoro neural voices' tables into data/kokoro-voices (apps/kws/kokoro.py).
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
apt_pkgs=(libportaudio2 python3-venv espeak-ng sox)
# the keyword data set's second and third synthesizers (flite voices kal, kal16, awb, rms, slt;
# festival voices kal_diphone, ked_diphone, cmu_us_slt_arctic_hts)
speech=(flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts)
for arg in "$@"; do
  case "$arg" in
    --dev) extras="${extras:+$extras,}dev"; apt_pkgs+=(mosquitto mosquitto-clients openssl chromium espeak-ng sox "${speech[@]}") ;;
    --train) extras="${extras:+$extras,}train"; apt_pkgs+=(espeak-ng sox "${speech[@]}")
             command -v npm >/dev/null || apt_pkgs+=(npm) ;;
    *) echo "setup.sh: unknown option $arg (use --dev and/or --train)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${apt_pkgs[@]}"; do
  [[ " ${missing[*]} " == *" $p "* ]] && continue  # listed twice (--dev --train)
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
# Mosquitto is started per test on a free port, never as the system service its package enables
# when installed: a service this script just installed is stopped (it would hold port 1883, the
# shipped config's embedded broker port); one the machine already ran is left alone, with a note.
if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
  if [[ " ${missing[*]} " == *" mosquitto "* ]]; then
    systemctl disable --now mosquitto >/dev/null 2>&1 || true
    echo "setup: stopped and disabled the mosquitto service its package just started (tests start"
    echo "       their own brokers; systemctl enable --now mosquitto brings it back)"
  else
    echo "setup: note: the mosquitto service runs here; config.toml's embedded broker needs port 1883:"
    echo "       set [mqtt] port to a free one, or broker = \"external\" to publish through mosquitto"
  fi
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
  # PyTorch CPU build: pin the version that installs from local wheels where available. Never fall
  # back to a bare `pip install torch`: on Linux that pulls the multi-GB CUDA build.
  if ! .venv/bin/python -m pip install -q "torch==2.13.0"; then
    echo "setup: could not install the PyTorch CPU build torch==2.13.0; install a CPU wheel into .venv" >&2
    echo "       (.venv/bin/python -m pip install torch --index-url https://download.pytorch.org/whl/cpu)" >&2
    echo "       and run bash scripts/setup.sh $* again" >&2
    exit 1
  fi
  spec=".[$extras]"
fi
echo "setup: installing akida-edge $spec into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec"
if [[ "$extras" == *train* ]]; then
  # the Kokoro training voices' tables (npm kokoro-js, checked by sha256; kept when already there)
  .venv/bin/python -m akida_edge.apps.kws.kokoro --fetch >/dev/null
fi
# numba compiles each kernel on its first call and caches it: do it now, once, so that the first
# `akida-edge run` has its pipelines online in seconds rather than after ~2 minutes of compiling
echo "setup: warming the kernel cache of the shipped apps (.venv/bin/python -m akida_edge.warm)"
.venv/bin/python -m akida_edge.warm --config config.toml
echo "setup: done; run .venv/bin/akida-edge run --duration 60 --dashboard (the README's first command),"
echo "       or 'source .venv/bin/activate' to call akida-edge by name"
