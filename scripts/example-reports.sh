#!/bin/sh
# example-reports.sh - compile the triage and math examples on the sim LM
# with each search optimizer, score the results on dev, print one table
# row per run, and keep one report.html per optimizer in
# docs/report-examples/ (the reports the docs link to).
#
# usage: sh scripts/example-reports.sh [BUILD_DIR]
# BUILD_DIR is a built tree: by default _build/release, the one
# scripts/quickstart.sh builds; any other configured and built directory
# (for example scripts/test.sh's _build/werror) works too. Needs python3.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/_build/release}
if [ ! -x "$build/core/cli/promptc" ]; then
  echo "example-reports.sh: $build: not a built tree (no core/cli/promptc)" >&2
  echo "usage: sh scripts/example-reports.sh [BUILD_DIR]" \
    "(default: _build/release, built by scripts/quickstart.sh)" >&2
  exit 2
fi
build=$(cd "$build" && pwd)
promptc="$build/core/cli/promptc"
PROMPTC_NO_SYSTEM_PLUGINS=1
PROMPTC_PLUGIN_PATH=$(ls -d "$build"/plugins/*/.libs | tr '\n' ':')
export PROMPTC_NO_SYSTEM_PLUGINS PROMPTC_PLUGIN_PATH
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
out="$top/docs/report-examples"
mkdir -p "$out"

# The example's sim config with absolute knowledge paths.
config() {  # config EXAMPLE FILE
  python3 - "$top/examples/$1" "$2" <<'PY'
import json, os, sys
ex, dst = sys.argv[1], sys.argv[2]
c = json.load(open(os.path.join(ex, "sim.json")))
c["lm"]["knowledge"] = [os.path.join(ex, k) for k in c["lm"]["knowledge"]]
json.dump(c, open(dst, "w"), indent=2)
PY
}

printf '%-16s %-7s %7s %7s %6s %6s %6s %6s %7s %6s\n' optimizer example \
  val0 val1 dev0 dev1 task prop metric wall_s
for ex in triage math; do
  config "$ex" "$tmp/$ex.json"
  sed -n 1,50p "$top/examples/$ex/data/train.jsonl" >"$tmp/$ex-train.jsonl"
  sed -n 51,100p "$top/examples/$ex/data/train.jsonl" >"$tmp/$ex-val.jsonl"
  for spec in "miprov2" "simba --set bsize=16 --set max_steps=4 --set num_candidates=4" \
              "gepa --set max_metric_calls=400" \
              "export-finetune" \
              "better-together --set finetuned_model=sim-ft-1 --set prompt_settings={\"num_candidate_programs\":2}" \
              "bootstrap"; do
    name=${spec%% *}
    # shellcheck disable=SC2086
    "$promptc" compile "$top/examples/$ex/program.json" \
      --config "$tmp/$ex.json" --train "$tmp/$ex-train.jsonl" \
      --val "$tmp/$ex-val.jsonl" --optimizer $spec --no-progress \
      --runs "$tmp/runs.sqlite" --cache "$tmp/cache-$ex-$name.sqlite" \
      --json -o "$tmp/$ex-$name.json" >"$tmp/sum.json" 2>"$tmp/err" || {
        cat "$tmp/err" >&2; exit 1; }
    for which in base comp; do
      prog="$top/examples/$ex/program.json"
      [ "$which" = comp ] && prog="$tmp/$ex-$name.json"
      "$promptc" eval "$prog" --config "$tmp/$ex.json" \
        --data "$top/examples/$ex/data/dev.jsonl" --no-progress --no-record \
        --json >"$tmp/dev-$which.json"
    done
    python3 - "$tmp/sum.json" "$tmp/dev-base.json" "$tmp/dev-comp.json" \
      "$name" "$ex" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
d0 = json.load(open(sys.argv[2]))["score"]
d1 = json.load(open(sys.argv[3]))["score"]
u = s["usage"]
print("%-16s %-7s %7.2f %7.2f %6.2f %6.2f %6d %6d %6d %7.2f" % (
    sys.argv[4], sys.argv[5], s["baseline"]["score"], s["compiled"]["score"],
    d0, d1, u["task_calls"], u["proposal_calls"], u["metric_calls"],
    s["elapsed_ms"] / 1000.0))
PY
    if [ "$ex" = triage ] && [ "$name" != bootstrap ]; then
      cp "$tmp/$ex-$name.report.html" "$out/$name-$ex.report.html"
    fi
  done
done
