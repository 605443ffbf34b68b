#!/bin/sh
# bench_compile.sh - `make bench`: every optimizer on examples/triage with
# the sim LM (train: train.jsonl, val: dev.jsonl, held out: test.jsonl),
# at 1 and 8 threads with the cache off, then two of them again with 20 ms
# of simulated latency per call. Prints the baseline and compiled
# validation scores, the compiled program's test score, the calls made and
# the wall time. Figures only: nothing here passes or fails on time.
set -eu
E="$PC_TEST_SRCDIR/../examples/triage"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pcbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cfg="$E/sim.json"
run() {  # run NAME THREADS SETTINGS...
  name=$1; threads=$2; shift 2
  start=$(date +%s.%N)
  "$PC_PROMPTC" compile "$E/program.json" --config "$cfg" \
    --train "$E/data/train.jsonl" --val "$E/data/dev.jsonl" \
    --optimizer "$name" "$@" --threads "$threads" --no-cache --no-progress \
    --runs "$tmp/runs.sqlite" --json -o "$tmp/$name.json" >"$tmp/out" \
    2>"$tmp/err" || { cat "$tmp/err"; return 1; }
  end=$(date +%s.%N)
  test_score=$("$PC_PROMPTC" eval "$tmp/$name.json" --config "$cfg" \
    --data "$E/data/test.jsonl" --no-cache --no-progress --json 2>/dev/null |
    sed -n 's/^  "score": \(.*\),$/\1/p')
  python3 - "$tmp/out" "$name" "$threads" "$start" "$end" "$test_score" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
u = o["usage"]
print("%-13s %2s thr  val %6.2f -> %6.2f  test %.4f  task %5d  proposal %3d"
      "  metric %5d  %6.2f s" % (sys.argv[2], sys.argv[3],
      o["baseline"]["score"], o["compiled"]["score"], float(sys.argv[6]),
      u["task_calls"], u["proposal_calls"], u["metric_calls"],
      float(sys.argv[5]) - float(sys.argv[4])))
PY
}

"$PC_PROMPTC" eval "$E/program.json" --config "$E/sim.json" \
  --data "$E/data/test.jsonl" --no-cache --no-progress 2>/dev/null |
  sed -n 's/^score *\([0-9.]*\).*/baseline test score \1/p'
for threads in 1 8; do
  run labeled "$threads"
  run bootstrap "$threads"
  run bootstrap-rs "$threads" --set num_candidate_programs=8
  run knn "$threads" --set k=3
  run copro "$threads" --set breadth=6 --set depth=2
done

# The same with 20 ms of simulated latency per LM call, where the thread
# count shows (the eval of the test split is included in neither time).
sed -e "s|\"data/|\"$E/data/|g" -e 's|"seed": 7,|"seed": 7, "latency_ms": 20,|' \
  "$E/sim.json" >"$tmp/slow.json"
cfg="$tmp/slow.json"
echo "with latency_ms 20:"
for threads in 1 8; do
  run bootstrap "$threads"
  run bootstrap-rs "$threads" --set num_candidate_programs=4
done
