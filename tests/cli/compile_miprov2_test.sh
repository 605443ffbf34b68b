#!/bin/sh
# compile_miprov2_test.sh - `promptc compile --optimizer miprov2` end to
# end on the sim LM with the triage and math examples: the compiled
# program beats the starting one on val and on dev by the margins stated
# below (and beats `bootstrap` on triage); zero-shot mode works; the
# trials and the calls follow the formulas of reference section 6 (cache
# off) and the dry-run estimate says the same; 1 and 16 threads write the
# same bytes; a resume after SIGKILL gives the same program; a budget cap
# keeps the best program so far; bad settings are refused before anything
# is spent; without --val the train split is split as DSPy does.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

X="${PC_TEST_SRCDIR:-tests}/../examples"
T="$pc_tmp"

# Splits: 50/50 of each example's train file, and 40/60 of triage's (|V|
# above 50, so auto mode searches on minibatches).
for ex in triage math; do
  sed -n 1,50p "$X/$ex/data/train.jsonl" >"$T/$ex-train.jsonl"
  sed -n 51,100p "$X/$ex/data/train.jsonl" >"$T/$ex-val.jsonl"
done
sed -n 1,40p "$X/triage/data/train.jsonl" >"$T/t40.jsonl"
sed -n 41,100p "$X/triage/data/train.jsonl" >"$T/v60.jsonl"

# make_config EXAMPLE EXTRA FILE: the example's sim config with absolute
# knowledge paths; EXTRA: more members of "lm" (may be empty).
make_config() {
  if [ "$1" = triage ]; then
    phrases='"follow the policy", "urgency", "overrides"'
    metric='{"name": "exact_match", "field": "queue"}'
  else
    phrases='"step by step", "units", "check the arithmetic"'
    metric='{"name": "numeric", "field": "answer"}'
  fi
  cat >"$3" <<EOF
{
  "lm": {"provider": "sim", "seed": 7,
         "knowledge": ["$X/$1/data/train.jsonl", "$X/$1/data/dev.jsonl",
                       "$X/$1/data/test.jsonl"],
         "key_phrases": [$phrases]$2},
  "metric": $metric,
  "concurrency": 4
}
EOF
}
make_config triage "" "$T/triage.json"
make_config math "" "$T/math.json"
# No malformed replies, hence no JSON-fallback calls: task calls are exact.
make_config triage ', "malformed_rate": 0.0' "$T/exact.json"
make_config triage ', "call_log": "'"$T/bad.log"'"' "$T/logged.json"

# compile STATUS EXAMPLE CONFIG TRAIN VAL ARGS...
compile() {
  want=$1; ex=$2; cfg=$3; tr=$4; va=$5; shift 5
  run_promptc "$want" compile "$X/$ex/program.json" --config "$cfg" \
    --train "$tr" --val "$va" --runs "$T/runs.sqlite" --no-progress "$@"
}

# get FILE EXPR: a value of a JSON file as Python prints it (EXPR indexes
# `d`).
get() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

# beats A B MARGIN: A >= B + MARGIN.
beats() {
  python3 -c 'import sys; a, b, m = map(float, sys.argv[1:])
sys.exit(0 if a >= b + m - 1e-9 else 1)' "$1" "$2" "$3"
}

# dev EXAMPLE PROGRAM: the dev score of a program.
dev() {
  "$PC_PROMPTC" eval "$2" --config "$T/$1.json" \
    --data "$X/$1/data/dev.jsonl" --json --cache "$T/cache-$1.sqlite" \
    >"$T/dev.json" 2>"$T/dev.err" || cat "$T/dev.err" >&2
  get "$T/dev.json" "d['score']"
}

# trials RUN_ID OUT: the run's trials as JSON lines in OUT.
trials() {
  "$PC_PROMPTC" history "$1" --runs "$T/runs.sqlite" --json >"$T/hist.json"
  python3 - "$T/hist.json" >"$2" <<'PY'
import json, sys
for t in json.load(open(sys.argv[1]))["trials"]:
    t.pop("at", None)
    print(json.dumps(t, sort_keys=True))
PY
}

# --- the search pays off on both examples (auto light, |V| = 50) --------
# Measured (seed 9): triage val 50.00 -> 78.00, dev 0.41 -> 0.80; math val
# 54.00 -> 72.00, dev 0.45 -> 0.67. Required: +10 points on val and +0.10
# on dev for both.
for ex in triage math; do
  compile 0 $ex "$T/$ex.json" "$T/$ex-train.jsonl" "$T/$ex-val.jsonl" \
    --optimizer miprov2 --json --cache "$T/cache-$ex.sqlite" \
    -o "$T/$ex-mipro.json"
  cp "$T/out" "$T/$ex-sum.json"
  base=$(get "$T/$ex-sum.json" "d['baseline']['score']")
  comp=$(get "$T/$ex-sum.json" "d['compiled']['score']")
  dbase=$(dev $ex "$X/$ex/program.json")
  dcomp=$(dev $ex "$T/$ex-mipro.json")
  echo "# $ex: val $base -> $comp, dev $dbase -> $dcomp"
  check "$ex: val: compiled ($comp) beats baseline ($base) by 10 points" \
    beats "$comp" "$base" 10
  check "$ex: dev: compiled ($dcomp) beats baseline ($dbase) by 0.10" \
    beats "$dcomp" "$dbase" 0.10
  check "$ex: light on |V| = 50: 10 full-val trials, no minibatch" test \
    "$(get "$T/$ex-mipro.report.json" "(d['optimizer_report']['num_trials'], d['optimizer_report']['minibatch'])")" = "(10, False)"
done
check "the compiled triage instructions hold more key phrases" \
  python3 - "$X/triage/program.json" "$T/triage-mipro.json" <<'PY'
import json, sys
phrases = ["follow the policy", "urgency", "overrides"]
start = json.load(open(sys.argv[1]))["modules"]["classify"]["signature"]
new = json.load(open(sys.argv[2]))["state"]["classify"]["instructions"]
def count(text):
    return sum(p in text.lower() for p in phrases)
assert count(new) > count(start["instructions"]), (new, start)
PY

# --- MIPROv2 light beats BootstrapFewShot on triage ----------------------
# Measured: bootstrap val 70.00, dev 0.70; miprov2 val 78.00, dev 0.80.
# Required: +5 points on val and +0.05 on dev.
compile 0 triage "$T/triage.json" "$T/triage-train.jsonl" \
  "$T/triage-val.jsonl" --optimizer bootstrap --json \
  --cache "$T/cache-triage.sqlite" -o "$T/triage-bs.json"
bval=$(get "$T/out" "d['compiled']['score']")
mval=$(get "$T/triage-sum.json" "d['compiled']['score']")
bdev=$(dev triage "$T/triage-bs.json")
mdev=$(dev triage "$T/triage-mipro.json")
echo "# triage: bootstrap val $bval dev $bdev; miprov2 val $mval dev $mdev"
check "triage: miprov2 val ($mval) beats bootstrap ($bval) by 5 points" \
  beats "$mval" "$bval" 5
check "triage: miprov2 dev ($mdev) beats bootstrap ($bdev) by 0.05" \
  beats "$mdev" "$bdev" 0.05

# --- zero-shot mode: instructions only ----------------------------------
# Measured: val 50.00 -> 62.00, dev 0.41 -> 0.51. Required: +5, +0.05.
compile 0 triage "$T/triage.json" "$T/triage-train.jsonl" \
  "$T/triage-val.jsonl" --optimizer miprov2 --json \
  --set max_bootstrapped_demos=0 --set max_labeled_demos=0 \
  --cache "$T/cache-triage.sqlite" --run-id zeroshot -o "$T/zs.json"
zbase=$(get "$T/out" "d['baseline']['score']")
zcomp=$(get "$T/out" "d['compiled']['score']")
zdev=$(dev triage "$T/zs.json")
zdbase=$(dev triage "$X/triage/program.json")
echo "# triage zero-shot: val $zbase -> $zcomp, dev $zdbase -> $zdev"
check "zero-shot: val ($zcomp) beats baseline ($zbase) by 5 points" \
  beats "$zcomp" "$zbase" 5
check "zero-shot: dev ($zdev) beats baseline ($zdbase) by 0.05" \
  beats "$zdev" "$zdbase" 0.05
trials zeroshot "$T/zs-trials.txt"
check "zero-shot: 6 instructions searched, 9 trials, no demo parameter" \
  python3 - "$T/zs-trials.txt" "$T/zs.report.json" <<'PY'
import json, sys
ts = [json.loads(l) for l in open(sys.argv[1])]
rep = json.load(open(sys.argv[2]))["optimizer_report"]
search = [t for t in ts if t["kind"] in ("minibatch", "full")]
assert rep["num_trials"] == 9 and rep["zero_shot"], rep
assert len(rep["instruction_candidates"]["classify"]) == 6, rep
assert len(search) == 10, len(search)  # the default + 9 trials
for t in search:
    assert set(t["params"]["classify"]) == {"instruction"}, t
    assert "demos" not in t["state"].get("classify", {}), t
PY
check "zero-shot: the compiled program has no demos" test \
  "$(get "$T/zs.json" "d['state'].get('classify', {}).get('demos')")" = None

# --- fidelity: trials and calls equal the formulas (cache off) ----------
# |T| = 40, |V| = 60 > 50: auto light searches K = 10 minibatch trials of
# m = 35 with ceil(10/5) = 2 periodic full evaluations and the default
# one: stage 3 runs |V| + K m + ceil(K/5) |V| = 60 + 350 + 120 = 530.
# Proposals: 2 + min(9, ceil(40/10) - 1) = 5 for the summary, and
# P x min(N_i, N_f) x 3 = 9. Stage 1: 4 bootstrap runs of at most 40.
compile 0 triage "$T/exact.json" "$T/t40.jsonl" "$T/v60.jsonl" \
  --optimizer miprov2 --dry-run --json -o "$T/never.json"
check "dry run: the estimate is 4 x 40 + 530 runs, 14 proposals" test \
  "$(get "$T/out" "list(d['estimate'].values())")" = "[690, 690, 14]"
check "a dry run writes no program" test ! -e "$T/never.json"
compile 0 triage "$T/exact.json" "$T/t40.jsonl" "$T/v60.jsonl" \
  --optimizer miprov2 --no-cache --threads 1 --json --run-id fidelity \
  -o "$T/fid.json"
cp "$T/out" "$T/fid-sum.json"
trials fidelity "$T/fid-trials.txt"
check "fidelity: 10 minibatch trials of 35, 3 full evaluations of 60" \
  python3 - "$T/fid-trials.txt" <<'PY'
import json, sys
ts = [json.loads(l) for l in open(sys.argv[1])]
mb = [t["n"] for t in ts if t["kind"] == "minibatch"]
full = [t["n"] for t in ts if t["kind"] == "full"]
assert mb == [35] * 10, mb
assert full == [60] * 3, full
assert ts[len(ts) - 13]["label"] == "trial 1: default program", ts
PY
stage1=$(python3 -c 'import json, sys
print(sum(json.loads(l).get("attempts", 0) for l in open(sys.argv[1])))' \
  "$T/fid-trials.txt")
check "fidelity: metric calls = stage 1 ($stage1) + 530" test \
  "$(get "$T/fid-sum.json" "d['usage']['metric_calls']")" = \
  "$((stage1 + 530))"
check "fidelity: task calls = metric calls (R = 1, no fallback)" test \
  "$(get "$T/fid-sum.json" "d['usage']['task_calls']")" = \
  "$((stage1 + 530))"
check "fidelity: 14 proposal calls, as estimated" test \
  "$(get "$T/fid-sum.json" "d['usage']['proposal_calls']")" = 14
check "fidelity: stage 1 stays within its estimate (4 x 40)" \
  test "$stage1" -le 160
check "the report's best is the compiled program's full val score" test \
  "$(get "$T/fid.report.json" "d['optimizer_report']['best_score']")" = \
  "$(get "$T/fid-sum.json" "d['compiled']['score']")"

# --- determinism: 1 and 16 threads ---------------------------------------
compile 0 triage "$T/triage.json" "$T/t40.jsonl" "$T/v60.jsonl" \
  --optimizer miprov2 --no-cache --threads 16 --run-id threads-16 \
  -o "$T/t16.json"
trials threads-16 "$T/t16-trials.txt"
check "1 and 16 threads write byte-identical programs" \
  cmp "$T/fid.json" "$T/t16.json"
python3 - "$T/fid-trials.txt" "$T/t16-trials.txt" <<'PY' >"$T/cmp.txt"
import json, sys
for f in sys.argv[1:]:
    keep = [{k: t[k] for k in ("trial", "kind", "params", "score", "n",
                               "state") if k in t}
            for t in map(json.loads, open(f)) if t["kind"] != "bootstrap"]
    print(json.dumps(keep, sort_keys=True))
PY
check "1 and 16 threads record the same search" \
  test "$(sed -n 1p "$T/cmp.txt")" = "$(sed -n 2p "$T/cmp.txt")"

# --- resume after SIGKILL: the same program, no call paid twice ----------
make_config triage ', "latency_ms": 2, "call_log": "'"$T/full.log"'"' \
  "$T/full-cfg.json"
make_config triage ', "latency_ms": 2, "call_log": "'"$T/part.log"'"' \
  "$T/part-cfg.json"
compile 0 triage "$T/full-cfg.json" "$T/t40.jsonl" "$T/v60.jsonl" \
  --optimizer miprov2 --threads 1 --cache "$T/cache-full" -o "$T/full.json"
full_calls=$(wc -l <"$T/full.log")
"$PC_PROMPTC" compile "$X/triage/program.json" --config "$T/part-cfg.json" \
  --train "$T/t40.jsonl" --val "$T/v60.jsonl" --runs "$T/runs.sqlite" \
  --no-progress --optimizer miprov2 --threads 1 --cache "$T/cache-part" \
  --run-id killed -o "$T/part.json" >/dev/null 2>&1 &
pid=$!
n=0
while [ "$n" -lt 400 ]; do  # until about half of the calls are made
  sleep 0.02
  lines=$(wc -l 2>/dev/null <"$T/part.log" || echo 0)
  [ "$lines" -ge $((full_calls / 2)) ] && break
  n=$((n + 1))
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
first=$(wc -l <"$T/part.log")
check "the first attempt was killed part-way ($first of $full_calls calls)" \
  test "$first" -gt 0 -a "$first" -lt "$full_calls"
run_promptc 0 compile --resume killed --runs "$T/runs.sqlite" --no-progress
total=$(wc -l <"$T/part.log")
resume_paid "$first" "$total" "$full_calls"
check "the resumed compile equals the uninterrupted one" \
  cmp "$T/part.json" "$T/full.json"

# --- budget: a cap keeps the best full-scored program so far -------------
# 400 calls: stage 1 and 2 (32 + 14 at one thread), the default on V (60),
# five minibatch trials (175) and the first periodic full evaluation (60)
# fit; the search stops at the eighth minibatch trial.
compile 0 triage "$T/triage.json" "$T/t40.jsonl" "$T/v60.jsonl" \
  --optimizer miprov2 --no-cache --threads 1 --max-calls 400 --json \
  -o "$T/capped.json"
cp "$T/out" "$T/capped-sum.json"
check "max_calls stops the search" \
  test "$(get "$T/capped-sum.json" "d['stopped_by']")" = max_calls
check "the cap is never overspent" test "$(get "$T/capped-sum.json" \
  "d['usage']['task_calls'] + d['usage']['proposal_calls'] <= 400")" = True
check "the capped report says it stopped, after a full evaluation" test \
  "$(get "$T/capped.report.json" "(d['optimizer_report']['stopped'], len(d['optimizer_report']['candidate_programs']))")" = "(True, 2)"
check "the capped program is the best full score so far" test \
  "$(get "$T/capped.report.json" "d['optimizer_report']['best_score']")" = \
  "$(get "$T/capped-sum.json" "d['compiled']['score']")"
check "the capped program is a complete program" \
  test "$(get "$T/capped.json" "d['schema']")" = promptc.program/1

# --- bad settings: clear errors before anything is spent -----------------
bad() {  # bad MESSAGE SETTINGS...
  msg=$1; shift
  rm -f "$T/bad.log" "$T/bad.json"
  compile 2 triage "$T/logged.json" "$T/t40.jsonl" "$T/v60.jsonl" \
    --optimizer miprov2 "$@" -o "$T/bad.json"
  contains "$pc_tmp/err" "$msg"
  check "no call and no program after: $*" \
    test ! -s "$T/bad.log" -a ! -e "$T/bad.json"
}
bad 'miprov2: auto "light" sets num_candidates and num_trials itself' \
  --set num_trials=7
bad "miprov2: num_candidates: required when auto is null" --set auto=null
bad "we suggest num_trials 9 for a one-predictor program" --set auto=null \
  --set num_candidates=5
bad 'miprov2: auto: expected "light", "medium", "heavy" or null' \
  --set auto=fast
bad "miprov2: temperature: unknown setting" --set temperature=1
bad "miprov2: minibatch_size: expected an integer >= 1" \
  --set minibatch_size=0
bad "miprov2: max_bootstrapped_demos: must be >= 1 when max_labeled_demos" \
  --set max_bootstrapped_demos=0
# Checked once |V| is known: the host asks the optimizer's estimate
# before its baseline evaluation, so no call is made at all.
rm -f "$T/bad.log"
compile 3 triage "$T/logged.json" "$T/t40.jsonl" "$T/v60.jsonl" \
  --optimizer miprov2 --set auto=null --set num_candidates=3 \
  --set num_trials=4 --set minibatch_size=61 --no-cache -o "$T/bad.json"
contains "$pc_tmp/err" "miprov2: minibatch_size: 61 is more than the 60 val"
check "minibatch_size > |V|: no LM call, not even the baseline's" \
  test ! -s "$T/bad.log"
check "minibatch_size > |V| writes nothing" test ! -e "$T/bad.json"
compile 3 triage "$T/logged.json" "$T/t40.jsonl" "$T/v60.jsonl" \
  --optimizer miprov2 --set auto=null --set num_candidates=3 \
  --set num_trials=4 --set minibatch_size=61 --dry-run
contains "$pc_tmp/err" "miprov2: minibatch_size: 61 is more than the 60 val"

# --- without --val: DSPy's split of train (80% val) ----------------------
run_promptc 0 compile "$X/triage/program.json" --config "$T/triage.json" \
  --train "$T/triage-train.jsonl" --runs "$T/runs.sqlite" --no-progress \
  --optimizer miprov2 --set auto=null --set num_candidates=3 \
  --set num_trials=4 --set minibatch=false --run-id split \
  --cache "$T/cache-triage.sqlite" -o "$T/split.json"
trials split "$T/split-trials.txt"
check "no --val: val is the last 40 of 50 train examples, train the first 10" \
  test "$(get "$T/split.report.json" "(d['optimizer_report']['val'], d['optimizer_report']['train_n'])")" = "({'split': 'train', 'n': 40}, 10)"
check "no --val: evaluations run on the train split, 5 of 40 examples" \
  python3 - "$T/split-trials.txt" <<'PY'
import json, sys
ts = [json.loads(l) for l in open(sys.argv[1])]
ev = [t for t in ts if t["kind"] == "full"]
assert [(t["split"], t["n"]) for t in ev] == [("train", 40)] * 5, ev
PY

finish
