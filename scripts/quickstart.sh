#!/bin/sh
# quickstart.sh - set up a Debian 12 machine, build and install promptc
# under _build/install, and run the main job on the example programs.
#
# The main job runs the examples on the embedded sim LM: one prediction
# with `promptc run`; `promptc compile` of the triage example with
# BootstrapFewShot (baseline and compiled scores on its validation split),
# then both programs scored on the held-out test split; and `promptc eval`
# of the math example. Writing and verifying a signed artifact joins when
# it is built.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

sh scripts/setup-debian.sh
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p _build/release
(cd _build/release && "$top/configure" -q --prefix="$top/_build/install" &&
 make -s -j"$jobs" && make -s install >/dev/null)
promptc="$top/_build/install/bin/promptc"

echo "== promptc plugins list"
"$promptc" plugins list
echo
echo "== one prediction: examples/triage on the sim LM"
"$promptc" run examples/triage/program.json --config examples/triage/sim.json \
  --input-json @examples/triage/input.json
echo
echo "== promptc compile: triage with BootstrapFewShot (train -> val=dev)"
work="$top/_build/quickstart"
rm -rf "$work" && mkdir -p "$work"
"$promptc" compile examples/triage/program.json --config examples/triage/sim.json \
  --train examples/triage/data/train.jsonl --val examples/triage/data/dev.jsonl \
  --optimizer bootstrap --runs "$work/runs.sqlite" --cache "$work/cache" \
  --no-progress -o "$work/triage-compiled.json"
echo
echo "== held-out test split: baseline vs compiled (exact match on the queue)"
for prog in examples/triage/program.json "$work/triage-compiled.json"; do
  printf '%-40s ' "$(basename "$prog")"
  "$promptc" eval "$prog" --config examples/triage/sim.json \
    --data examples/triage/data/test.jsonl --cache "$work/cache" \
    --no-progress 2>/dev/null | sed -n 's/^score *//p'
done
echo
echo "== promptc eval: math word problems (chain of thought, numeric), dev split"
"$promptc" eval examples/math/program.json --config examples/math/sim.json \
  --data examples/math/data/dev.jsonl --inputs question --metric numeric:answer
