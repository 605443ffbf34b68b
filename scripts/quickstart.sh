#!/bin/sh
# quickstart.sh - set up a Debian 12 machine, build and install promptc
# under _build/install, and run the main job on the example programs.
#
# For now the main job shows what promptc sends an LM: the exact
# DSPy-format prompt of the math example (chain of thought, with demos)
# and of the triage example, then parses a sample completion into typed
# fields. Running and compiling programs join as they are built.
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
echo "== the messages examples/math sends for one question (--text)"
"$promptc" inspect examples/math/program.json \
  --input-json @examples/math/input.json --text
echo
echo "== the same call as JSON, for examples/triage"
"$promptc" inspect examples/triage/program.json \
  --input-json @examples/triage/input.json
echo
echo "== parsing a completion into typed fields (answer is a float)"
"$promptc" inspect examples/math/program.json \
  --parse examples/math/completion.txt
