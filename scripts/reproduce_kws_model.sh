#!/usr/bin/env bash
# Reproduce the shipped keyword-spotting model (apps/kws/model) in one command: the data sets, the
# training stages and the conversion of docs/kws.md ("Reproduce the shipped model"), each
# with its own progress lines. About 5.5 h on one thread; every data set is cached and resumable, so
# a second run after an interruption picks up where it stopped (a finished stage is not redone
# when its output exists).
#
#   bash scripts/reproduce_kws_model.sh [--small] [WORK_DIR] [OUT_DIR]
#
# WORK_DIR (default data/kws-repro) holds the intermediate networks and checkpoints; OUT_DIR
# (default apps/kws/model) gets kws.aem, kws_float.pt, metrics.json, REPORT.md and confusion.png.
# The data sets go where docs/kws.md puts them (data/kws-en, data/kws-words, data/kws-windows,
# data/kws-words-more, data/kws-words-more2, data/kws-kokoro-accented, data/kws-words-kokoro-accented);
# with --small, smoke-sized ones go under WORK_DIR instead (minutes: the CI-sized check that the
# chain runs; its model is not the shipped one). Needs `scripts/setup.sh --train` (PyTorch, flite,
# festival, espeak-ng, sox, the Kokoro network and voices). PYTHON overrides the interpreter (default .venv/bin/python).
set -euo pipefail

small=()
if [[ "${1:-}" == "--small" ]]; then
    small=(--small)
    shift
fi
work=${1:-data/kws-repro}
out=${2:-apps/kws/model}
py=${PYTHON:-.venv/bin/python}
if [[ ${#small[@]} -gt 0 ]]; then
    data=$work/kws-en words=$work/kws-words windows=$work/kws-windows more=$work/kws-words-more
    more2=$work/kws-words-more2 kokoro=$work/kws-kokoro-accented kwords=$work/kws-words-kokoro-accented clips=()
else
    data=data/kws-en words=data/kws-words windows=data/kws-windows more=data/kws-words-more
    more2=data/kws-words-more2 kokoro=data/kws-kokoro-accented kwords=data/kws-words-kokoro-accented
    clips=(--clips-per-word 96)
fi
mkdir -p "$work"
step() { echo "reproduce_kws_model: step $1/12: $2" >&2; }

step 1 "the keyword data set and the session-3 network (22 float epochs)"
if [[ ! -f "$work/ckpt/float-seed2.pt" || ! -f "$work/s3/kws.aem" ]]; then
    "$py" -m akida_edge.apps.kws.train --data "$data" --out "$work/s3" --seed 2 --checkpoints "$work/ckpt" \
        "${small[@]}"
fi
step 2 "the word set (454 words by the training voices)"
"$py" -m akida_edge.apps.kws.wordset --out "$words" "${small[@]}"
step 3 "8 more epochs with the word set in the auxiliary head (the session-5 network)"
if [[ ! -f "$work/s5/kws_float.pt" ]]; then
    "$py" -m akida_edge.apps.kws.train --data "$data" --out "$work/s5" --seed 2 --checkpoints "$work/ckpt" \
        --float-from "$work/ckpt/float-seed2.pt" --continue-epochs 8 --words "$words" "${small[@]}"
fi
step 4 "1-s windows of continuous non-keyword speech"
"$py" -m akida_edge.apps.kws.speechwindows --out "$windows" "${small[@]}"
step 5 "4 more epochs with the new _unknown_ examples (the session-6 network)"
if [[ ! -f "$work/s6/kws_float.pt" ]]; then
    "$py" -m akida_edge.apps.kws.train --data "$data" --out "$work/s6" --seed 2 --checkpoints "$work/ckpt" \
        --float-from "$work/s5/kws_float.pt" --continue-epochs 4 --words "$words" --words-unknown \
        --windows "$windows" "${small[@]}"
fi
step 6 "the second word set (1 000 more words by the training voices)"
"$py" -m akida_edge.apps.kws.wordset --more --out "$more" "${clips[@]}" "${small[@]}"
step 7 "a linear probe of the word head, 4 more epochs with all the words, calibration, quantization-aware training, conversion (the session-12 network)"
if [[ ! -f "$work/s12/kws.aem" ]]; then
    "$py" -m akida_edge.apps.kws.train --data "$data" --out "$work/s12" --seed 2 --checkpoints "$work/ckpt12" \
        --float-from "$work/s6/kws_float.pt" --continue-epochs 4 --words "$words" --more-words "$more" \
        --words-unknown --windows "$windows" --probe-epochs 10 "${small[@]}"
fi
step 8 "the third word set (the next 1 000 words by the training voices)"
"$py" -m akida_edge.apps.kws.wordset --more 2 --out "$more2" "${clips[@]}" "${small[@]}"
step 9 "a linear probe, 2 more epochs with all three word sets distilling the session-12 network's keyword outputs, calibration, quantization-aware training, conversion (the session-15 model)"
if [[ ! -f "$work/s15/kws.aem" ]]; then
    "$py" -m akida_edge.apps.kws.train --data "$data" --out "$work/s15" --seed 5 --checkpoints "$work/ckpt15" \
        --float-from "$work/ckpt12/float-continued-seed2.pt" --continue-epochs 2 --words "$words" \
        --more-words "$more" "$more2" --words-unknown --windows "$windows" --probe-epochs 10 --distill 1.0 \
        "${small[@]}"
fi
step 10 "keyword clips said by 36 Kokoro neural voices, 14 of them accented (apps/kws/kokoroset.py)"
"$py" -m akida_edge.apps.kws.kokoroset --accented --out "$kokoro" "${small[@]}"
step 11 "the first word set's words said by the same Kokoro voices"
"$py" -m akida_edge.apps.kws.wordset --kokoro --accented --workers 2 --out "$kwords" "${small[@]}"
step 12 "2 more epochs of the session-15 float network with the Kokoro clips, distilling its keyword outputs, then 4 quantization-aware epochs that also learn its soft outputs, conversion (the session-21 model)"
"$py" -m akida_edge.apps.kws.train --data "$data" --out "$out" --seed 13 --checkpoints "$work/ckpt21" \
    --float-from "$work/ckpt15/float-continued-seed5.pt" --continue-epochs 2 --distill 1.0 --qat-distill 1.0 \
    --qat-epochs 4 --kokoro "$kokoro" --words "$words" --more-words "$more" "$more2" "$kwords" --words-unknown \
    --windows "$windows" "${small[@]}"
echo "reproduce_kws_model: done: $out (compare $out/REPORT.md with apps/kws/model/REPORT.md)" >&2
