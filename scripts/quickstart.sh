#!/bin/sh
# quickstart.sh - set up a Debian 12 machine, build and install promptc
# under _build/install, and run the main job on the example programs.
#
# The main job runs the examples on the embedded sim LM: one prediction
# with `promptc run`, then `promptc eval` of each example on its dev split
# (mean score with a 95% interval, per-slice scores, errors, LM calls).
# Compiling, and writing and verifying a signed artifact, join as they
# are built.
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
echo "== promptc eval: triage (exact match on the queue), dev split"
"$promptc" eval examples/triage/program.json --config examples/triage/sim.json \
  --data examples/triage/data/dev.jsonl --inputs ticket,policy \
  --metric exact_match:queue
echo
echo "== promptc eval: math word problems (chain of thought, numeric), dev split"
"$promptc" eval examples/math/program.json --config examples/math/sim.json \
  --data examples/math/data/dev.jsonl --inputs question --metric numeric:answer
