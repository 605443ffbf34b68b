#!/bin/sh
# multihop_test.sh - the multihop example end to end on the sim LM: the
# corpus is indexed, the two-hop program (a bounded loop: write a query
# from what was found so far, retrieve, accumulate; then answer) is evaluated for passage recall and
# answer accuracy, before and after a bootstrap compile; two hops recall
# more gold passages than one, and answer better; the LM calls per
# example are as designed.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

E="${PC_TEST_SRCDIR:-tests}/../examples/multihop"
T="$pc_tmp"

check "the committed data matches its generator" \
  python3 "${PC_TEST_SRCDIR:-tests}/../scripts/gen-multihop-example.py" \
  --check
run_promptc 0 index build "$E/corpus.jsonl" -o "$T/corpus.db"

cat >"$T/sim.json" <<EOF
{
  "lm": {"provider": "sim", "seed": 7,
         "knowledge": ["$E/data/train.jsonl", "$E/data/dev.jsonl",
                       "$E/data/test.jsonl"]},
  "tools": {"search": {"index": "$T/corpus.db", "k": 3}},
  "metric": {"name": "passage_recall", "field": "passages",
             "gold_field": "gold_titles"},
  "concurrency": 4
}
EOF

# The one-hop variant: the same program with one iteration of the loop.
python3 - "$E/program.json" "$T/onehop.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["flow"][0]["repeat"] == 2
p["flow"][0]["repeat"] = 1
p["name"] = "onehop"
json.dump(p, open(sys.argv[2], "w"), indent=2)
EOF

compile() {  # compile PROGRAM OUT
  run_promptc 0 compile "$1" --config "$T/sim.json" \
    --train "$E/data/train.jsonl" --val "$E/data/dev.jsonl" \
    --optimizer bootstrap --runs "$T/runs.sqlite" --no-progress \
    --no-report --no-cache -o "$2"
}
compile "$E/program.json" "$T/twohop-c.json"
contains "$T/out" "baseline"
compile "$T/onehop.json" "$T/onehop-c.json"

# evaluate NAME PROGRAM METRIC: the eval summary in $T/NAME.json.
evaluate() {
  run_promptc 0 eval "$2" --config "$T/sim.json" \
    --data "$E/data/test.jsonl" --metric "$3" --no-record --no-cache \
    --json --no-progress
  cp "$T/out" "$T/$1.json"
}
for p in twohop onehop; do
  src="$E/program.json"
  [ "$p" = onehop ] && src="$T/onehop.json"
  evaluate "$p-base-recall" "$src" passage_recall
  evaluate "$p-base-acc" "$src" exact_match:answer
  evaluate "$p-c-recall" "$T/$p-c.json" passage_recall
  evaluate "$p-c-acc" "$T/$p-c.json" exact_match:answer
done

python3 - "$T" <<'EOF' >"$T/table"
import json, os, sys
t = sys.argv[1]
for name in ("twohop-base", "twohop-c", "onehop-base", "onehop-c"):
    r = json.load(open(os.path.join(t, name + "-recall.json")))
    a = json.load(open(os.path.join(t, name + "-acc.json")))
    u = r["usage"]
    print("%-12s recall %.3f  accuracy %.3f  calls/example %.2f" % (
        name, r["score"], a["score"],
        (u["calls"] - u["fallbacks"]) / r["examples"]))
EOF
sed "s/^/# /" "$T/table"

score() { python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["score"])' "$T/$1.json"; }
gt() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) + float(sys.argv[3]) else 1)' "$@"; }

check "two-hop recall after compile beats its baseline by 0.2" \
  gt "$(score twohop-c-recall)" "$(score twohop-base-recall)" 0.2
check "two hops recall more gold passages than one (compiled)" \
  gt "$(score twohop-c-recall)" "$(score onehop-c-recall)" 0.15
check "one hop can find at most half of the gold titles" \
  python3 -c 'import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))["score"] <= 0.5 else 1)' \
  "$T/onehop-c-recall.json"
check "two-hop accuracy after compile beats its baseline and one hop" \
  python3 -c 'import json, sys
s = [json.load(open(n))["score"] for n in sys.argv[1:]]
sys.exit(0 if s[0] > s[1] + 0.2 and s[0] > s[2] + 0.1 else 1)' \
  "$T/twohop-c-acc.json" "$T/twohop-base-acc.json" "$T/onehop-c-acc.json"
check "answer accuracy is reported for every program" python3 -c '
import json, sys
for n in sys.argv[1:]:
    d = json.load(open(n))
    assert d["metric"].startswith("exact_match"), (n, d["metric"])
    assert d["evaluated"] == 18 and d["errors"]["total"] == 0, n
    assert 0.0 <= d["score"] <= 1.0, n' "$T"/*-acc.json
check "two hops cost 3 LM calls an example, one hop 2" python3 -c '
import json, sys
for n, want in ((sys.argv[1], 3), (sys.argv[2], 2)):
    d = json.load(open(n)); u = d["usage"]
    got = (u["calls"] - u["fallbacks"]) / d["examples"]
    assert got == want, (n, got)' \
  "$T/twohop-c-recall.json" "$T/onehop-c-recall.json"

finish
