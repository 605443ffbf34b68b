#!/bin/sh
# quickstart.sh - set up a Debian 12 machine, build and install promptc
# under _build/install, and run the main job on the example programs.
#
# The main job runs the examples on the embedded sim LM: one prediction
# with `promptc run`; `promptc compile` of the triage example with
# BootstrapFewShot (baseline and compiled scores on its validation split),
# then the release flow: a signing key made on the spot, the compiled
# program packed into a signed, reproducible artifact (scored on the
# held-out test split), verified, and promoted to the staging channel of
# a fresh release registry through the gates of examples/triage/gates.json;
# and `promptc eval` of the math example.
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
  --no-progress -o "$work/triage-compiled.json" | tee "$work/compile.out"
echo
echo "== a signing key, made on the spot (unencrypted, as for CI)"
"$promptc" keygen -p "$work/release.pub" -s "$work/release.sec" --no-password
echo
echo "== promptc pack: a signed artifact, scored on the held-out test split"
run_id=$(sed -n 's/^run *//p' "$work/compile.out")
"$promptc" pack "$work/triage-compiled.json" --run "$run_id" \
  --runs "$work/runs.sqlite" --name triage --version 1.0.0 \
  --key "$work/release.sec" --test examples/triage/data/test.jsonl \
  --cache "$work/cache" --no-progress -o "$work/dist"
echo
echo "== promptc verify (and the real minisign, which reads the same format)"
"$promptc" verify "$work/dist/triage-1.0.0.ppa" -p "$work/release.pub"
if command -v minisign >/dev/null 2>&1; then
  minisign -V -p "$work/release.pub" -m "$work/dist/triage-1.0.0.ppa"
fi
echo
echo "== promptc promote: to staging through the gates, on the test split"
"$promptc" release init "$work/registry"
"$promptc" promote "$work/dist/triage-1.0.0.ppa" --registry "$work/registry" \
  --to staging --gates examples/triage/gates.json \
  --test examples/triage/data/test.jsonl --config examples/triage/sim.json \
  -p "$work/release.pub" --cache "$work/cache" --no-progress \
  --reason "quickstart"
"$promptc" release list --registry "$work/registry"
echo
echo "== promptc eval: math word problems (chain of thought, numeric), dev split"
"$promptc" eval examples/math/program.json --config examples/math/sim.json \
  --data examples/math/data/dev.jsonl --inputs question --metric numeric:answer
