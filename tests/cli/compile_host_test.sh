#!/bin/sh
# compile_host_test.sh - the compile host behind every optimizer: dry runs,
# budget caps, resume after SIGKILL, the run store and bad input. Uses the
# triage example on the sim LM, with the bootstrap-rs optimizer because it
# makes many requests (so a cap or a kill lands in the middle).
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

E="${PC_TEST_SRCDIR:-tests}/../examples/triage"
T="$pc_tmp"
sed -n 1,40p "$E/data/train.jsonl" >"$T/train.jsonl"
sed -n 41,80p "$E/data/train.jsonl" >"$T/val.jsonl"

# A copy of the example's config with absolute knowledge paths and extra
# sim members ($1: JSON members to add to "lm", may be empty; $2: extra
# top-level members, may be empty).
make_config() {
  cat >"$3" <<EOF
{
  "lm": {"provider": "sim", "seed": 7,
         "knowledge": ["$E/data/train.jsonl", "$E/data/dev.jsonl",
                       "$E/data/test.jsonl"],
         "key_phrases": ["follow the policy", "urgency", "overrides"]$1},
  "metric": {"name": "exact_match", "field": "queue"}$2
}
EOF
}
make_config "" "" "$T/cfg.json"

compile() {  # compile STATUS ARGS... (program, config and data filled in)
  want=$1; shift
  run_promptc "$want" compile "$E/program.json" --config "$T/cfg.json" \
    --train "$T/train.jsonl" --val "$T/val.jsonl" --runs "$T/runs.sqlite" \
    --no-progress "$@"
}

json_num() {  # json_num FILE KEY: a top-level or usage number from --json
  sed -n "s/^ *\"$2\": \([0-9.e+-]*\),*$/\1/p" "$1" | head -n 1
}

RS="--optimizer bootstrap-rs --set num_candidate_programs=3"

# --- dry run: an estimate, nothing spent, nothing written --------------
make_config ', "call_log": "'"$T/dry.log"'"' "" "$T/cfg-dry.json"
run_promptc 0 compile "$E/program.json" --config "$T/cfg-dry.json" \
  --train "$T/train.jsonl" --val "$T/val.jsonl" $RS --dry-run --json \
  -o "$T/dry.json"
contains "$T/out" '"lm_calls"'
contains "$T/out" '"metric_calls"'
check "a dry run makes no LM call" test ! -s "$T/dry.log"
check "a dry run writes no program" test ! -e "$T/dry.json"

# --- budget caps: each stops cleanly with a valid best-so-far program --
compile 0 $RS --no-cache --threads 1 --max-calls 120 --json \
  -o "$T/calls.json"
contains "$T/out" '"stopped_by": "max_calls"'
calls=$(json_num "$T/out" task_calls)
check "max_calls 120 holds at one thread (spent $calls)" \
  test "${calls:-999}" -le 122
check "the capped compile wrote a program" test -s "$T/calls.json"
run_promptc 0 eval "$T/calls.json" --config "$T/cfg.json" \
  --data "$T/val.jsonl" --no-cache
contains "$T/out" "score"

compile 0 $RS --no-cache --max-tokens 20000 --json -o "$T/tokens.json"
contains "$T/out" '"stopped_by": "max_tokens"'
check "the token-capped compile wrote a program" test -s "$T/tokens.json"

make_config "" ', "pricing": {"sim": {"input": 5.0, "output": 15.0}}' \
  "$T/cfg-priced.json"
run_promptc 0 compile "$E/program.json" --config "$T/cfg-priced.json" \
  --train "$T/train.jsonl" --val "$T/val.jsonl" --runs "$T/runs.sqlite" \
  --no-progress $RS --no-cache --max-cost 0.05 --json -o "$T/cost.json"
contains "$T/out" '"stopped_by": "max_cost"'
contains "$T/out" '"cost": '
check "the cost-capped compile wrote a program" test -s "$T/cost.json"
compile 2 $RS --max-cost 1 -o "$T/nocost.json"
contains "$T/err" "no price"

make_config ', "latency_ms": 20' "" "$T/cfg-slow.json"
run_promptc 0 compile "$E/program.json" --config "$T/cfg-slow.json" \
  --train "$T/train.jsonl" --val "$T/val.jsonl" --runs "$T/runs.sqlite" \
  --no-progress $RS --no-cache --threads 2 --max-time 1 -o "$T/time.json"
contains "$T/out" "stopped   max_time"
check "the time-capped compile wrote a program" test -s "$T/time.json"

# --- determinism: 1 and 16 threads, same bytes and the same trial log --
compile 0 $RS --cache "$T/c1" --threads 1 --run-id det-1 -o "$T/d1.json"
compile 0 $RS --cache "$T/c16" --threads 16 --run-id det-16 -o "$T/d16.json"
check "1 and 16 threads write the same program" cmp -s "$T/d1.json" \
  "$T/d16.json"
trials() {  # trials RUN_ID: the run's trial records, one per line
  "$PC_PROMPTC" history "$1" --runs "$T/runs.sqlite" --json |
    python3 -c 'import json, sys
for t in json.load(sys.stdin)["trials"]: print(json.dumps(t, sort_keys=True))'
}
trials det-1 >"$T/t1"
trials det-16 >"$T/t16"
check "1 and 16 threads record the same trials" cmp -s "$T/t1" "$T/t16"
check "the trial log is not empty" grep -q '"trial": 3' "$T/t1"

# --- resume after SIGKILL: same result, no call paid twice -------------
# At one thread the calls are the same in every run (more threads may run
# a few speculative calls past a stop point, differently each time), so
# the calls of the killed and the resumed attempt must add up to exactly
# those of an uninterrupted run.
make_config ', "latency_ms": 3, "call_log": "'"$T/full.log"'"' "" \
  "$T/cfg-full.json"
run_promptc 0 compile "$E/program.json" --config "$T/cfg-full.json" \
  --train "$T/train.jsonl" --val "$T/val.jsonl" --runs "$T/runs.sqlite" \
  --no-progress $RS --cache "$T/cache-full" --threads 1 \
  -o "$T/full.json"
full_calls=$(wc -l <"$T/full.log")

make_config ', "latency_ms": 3, "call_log": "'"$T/part.log"'"' "" \
  "$T/cfg-part.json"
"$PC_PROMPTC" compile "$E/program.json" --config "$T/cfg-part.json" \
  --train "$T/train.jsonl" --val "$T/val.jsonl" --runs "$T/runs.sqlite" \
  --no-progress $RS --cache "$T/cache-part" --threads 1 --run-id killed \
  -o "$T/part.json" >/dev/null 2>&1 &
pid=$!
n=0
while [ "$n" -lt 200 ]; do  # until about a third of the calls are made
  sleep 0.05
  lines=$(wc -l 2>/dev/null <"$T/part.log" || echo 0)
  [ "$lines" -ge $((full_calls / 3)) ] && break
  n=$((n + 1))
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
first=$(wc -l <"$T/part.log")
check "the first attempt was killed part-way ($first of $full_calls calls)" \
  test "$first" -gt 0 -a "$first" -lt "$full_calls"
check "the killed attempt wrote no program" test ! -e "$T/part.json"
run_promptc 0 compile --resume killed --runs "$T/runs.sqlite" --no-progress
contains "$T/out" "answered from the run's log"
total=$(wc -l <"$T/part.log")
resume_paid "$first" "$total" "$full_calls"
check "the resumed compile equals the uninterrupted one" \
  cmp -s "$T/part.json" "$T/full.json"

"$PC_PROMPTC" history killed --runs "$T/runs.sqlite" >"$T/hist" 2>&1
contains "$T/hist" "status    done"
run_promptc 2 compile --resume nosuch --runs "$T/runs.sqlite"
contains "$T/err" "no such run"
run_promptc 2 compile --resume killed --runs "$T/runs.sqlite" --seed 3
contains "$T/err" "--resume takes the run's own"
echo '{"id": "x1", "ticket": "t", "policy": "p", "queue": "other", "urgency": 1}' \
  >>"$T/train.jsonl"
run_promptc 3 compile --resume killed --runs "$T/runs.sqlite"
contains "$T/err" "changed since the run started"

# --- bad input: clear errors, nothing written --------------------------
compile 2 --optimizer bootstrap --set nosuch=1 -o "$T/bad.json"
contains "$T/err" "nosuch"
compile 2 --optimizer bootstrap --set max_rounds=-1 -o "$T/bad.json"
contains "$T/err" "max_rounds"
compile 4 --optimizer nosuch -o "$T/bad.json"
contains "$T/err" "no loaded plugin offers it"
: >"$T/empty.jsonl"
run_promptc 3 compile "$E/program.json" --config "$T/cfg.json" \
  --train "$T/empty.jsonl" --optimizer bootstrap --runs "$T/runs.sqlite" \
  -o "$T/bad.json"
contains "$T/err" "no examples"
compile 5 --optimizer bootstrap --metric exact_match:nosuch -o "$T/bad.json"
contains "$T/err" "no field 'nosuch'"
check "no failed compile wrote a program" test ! -e "$T/bad.json"
compile 2 --optimizer bootstrap
contains "$T/err" "-o COMPILED.json is required"

finish
