#!/bin/sh
# compile_knn_test.sh - `promptc compile --optimizer knn` end to end on the
# sim LM with the triage example: the compiled program (demo pools, k
# nearest per call) beats the zero-shot baseline on val and on dev by the
# margins stated below, the calls spent equal the formula (|T| teacher runs
# and |T| metric calls, cache off), 1 and 16 threads give the same bytes
# and trials, and bad settings are refused before anything is spent.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

E="${PC_TEST_SRCDIR:-tests}/../examples/triage"
T="$pc_tmp"
sed -n 1,70p "$E/data/train.jsonl" >"$T/train.jsonl"    # |T| = 70
sed -n 71,100p "$E/data/train.jsonl" >"$T/val.jsonl"    # |V| = 30

# The example's config with absolute knowledge paths; $1: extra members
# of "lm" (may be empty).
make_config() {
  cat >"$2" <<EOF
{
  "lm": {"provider": "sim", "seed": 7,
         "knowledge": ["$E/data/train.jsonl", "$E/data/dev.jsonl",
                       "$E/data/test.jsonl"],
         "key_phrases": ["follow the policy", "urgency", "overrides"]$1},
  "metric": {"name": "exact_match", "field": "queue"},
  "concurrency": 4
}
EOF
}
make_config "" "$T/cfg.json"
# No malformed replies: no fallback calls, so the formula is exact.
make_config ', "malformed_rate": 0.0' "$T/cfg-exact.json"

compile() {  # compile STATUS CONFIG ARGS...
  want=$1; cfg=$2; shift 2
  run_promptc "$want" compile "$E/program.json" --config "$cfg" \
    --train "$T/train.jsonl" --val "$T/val.jsonl" --optimizer knn \
    --runs "$T/runs.sqlite" --no-progress "$@"
}

# json_get FILE EXPR: a value from a JSON file, as Python prints it
# (EXPR indexes `d`, e.g. "d['usage']['task_calls']").
json_get() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

# at_least A B MARGIN: A >= B + MARGIN (numbers).
at_least() {
  python3 -c 'import sys; a, b, m = map(float, sys.argv[1:])
sys.exit(0 if a >= b + m - 1e-9 else 1)' "$1" "$2" "$3"
}

# --- dry run: the estimate is |T| * R teacher calls, |T| metric calls ---
compile 0 "$T/cfg.json" --set k=4 --dry-run --json
cp "$T/out" "$T/dry.json"
check "dry run: lm_calls = 70 x 1" \
  test "$(json_get "$T/dry.json" "d['estimate']['lm_calls']")" = 70
check "dry run: metric_calls = 70" \
  test "$(json_get "$T/dry.json" "d['estimate']['metric_calls']")" = 70
check "dry run: no proposal calls" \
  test "$(json_get "$T/dry.json" "d['estimate']['proposal_calls']")" = 0
compile 0 "$T/cfg.json" --set k=4 --set use_metric=false --dry-run --json
check "dry run without the metric: metric_calls = 0" \
  test "$(json_get "$T/out" "d['estimate']['metric_calls']")" = 0

# --- quality: compiled beats baseline by 10 points on val (30), and by
# 0.15 on dev (100, promptc eval) -------------------------------------
compile 0 "$T/cfg.json" --set k=4 --cache "$T/cache.sqlite" --json \
  -o "$T/knn.json"
cp "$T/out" "$T/knn-summary.json"
base=$(json_get "$T/knn-summary.json" "d['baseline']['score']")
comp=$(json_get "$T/knn-summary.json" "d['compiled']['score']")
check "val: compiled $comp >= baseline $base + 10" at_least "$comp" "$base" 10
check "the compiled program holds a knn pool of every train example" \
  test "$(json_get "$T/knn.json" \
    "len(d['state']['classify']['knn']['pool'])")" = 70
check "the pool holds augmented demos and labeled examples" \
  test "$(json_get "$T/knn.json" "sorted(set(bool(e.get('augmented')) \
    for e in d['state']['classify']['knn']['pool']))")" = "[False, True]"
check "the pool's retrieval settings are the ones asked for" \
  test "$(json_get "$T/knn.json" "[d['state']['classify']['knn'][x] for x \
    in ('k', 'vectorizer', 'input_keys')]")" = \
    "[4, 'tfidf', ['ticket', 'policy']]"
run_promptc 0 eval "$E/program.json" --config "$T/cfg.json" \
  --data "$E/data/dev.jsonl" --cache "$T/cache.sqlite" --json --no-progress
dev_base=$(json_get "$T/out" "d['score']")
run_promptc 0 eval "$T/knn.json" --config "$T/cfg.json" \
  --data "$E/data/dev.jsonl" --cache "$T/cache.sqlite" --json --no-progress
dev_comp=$(json_get "$T/out" "d['score']")
check "dev: compiled $dev_comp >= baseline $dev_base + 0.15" \
  at_least "$dev_comp" "$dev_base" 0.15

# BM25 retrieval works as well.
compile 0 "$T/cfg.json" --set k=4 --set vectorizer=bm25 \
  --cache "$T/cache.sqlite" --json -o "$T/bm25.json"
check "bm25: compiled beats baseline by 10 points on val" at_least \
  "$(json_get "$T/out" "d['compiled']['score']")" \
  "$(json_get "$T/out" "d['baseline']['score']")" 10

# --- fidelity: with the cache off, the calls are exactly the formula ----
compile 0 "$T/cfg-exact.json" --set k=3 --no-cache --json -o "$T/exact.json"
cp "$T/out" "$T/exact-summary.json"
for key in task_calls provider_calls metric_calls program_runs; do
  check "no cache: $key = 70" \
    test "$(json_get "$T/exact-summary.json" "d['usage']['$key']")" = 70
done
check "no cache: no proposal calls" \
  test "$(json_get "$T/exact-summary.json" "d['usage']['proposal_calls']")" = 0
check "one trial, the teacher's pass" \
  test "$(json_get "$T/exact-summary.json" "d['trials']")" = 1
compile 0 "$T/cfg-exact.json" --set k=3 --set use_metric=false --no-cache \
  --json -o "$T/nometric.json"
check "without the metric: 70 task calls" \
  test "$(json_get "$T/out" "d['usage']['task_calls']")" = 70
check "without the metric: no metric calls" \
  test "$(json_get "$T/out" "d['usage']['metric_calls']")" = 0

# --- determinism: 1 and 16 threads, same bytes and same trials ----------
compile 0 "$T/cfg.json" --set k=3 --no-cache --threads 1 --run-id knn-t1 \
  -o "$T/t1.json"
compile 0 "$T/cfg.json" --set k=3 --no-cache --threads 16 --run-id knn-t16 \
  -o "$T/t16.json"
check "1 and 16 threads write identical programs" cmp -s "$T/t1.json" \
  "$T/t16.json"
for id in knn-t1 knn-t16; do
  run_promptc 0 history "$id" --runs "$T/runs.sqlite" --json
  json_get "$T/out" "json.dumps(d['trials'], sort_keys=True)" \
    >"$T/trials-$id"
done
check "1 and 16 threads record the same trials" cmp -s "$T/trials-knn-t1" \
  "$T/trials-knn-t16"
check "the trial holds the pool" grep -q '"knn pool"' "$T/trials-knn-t1"

# --- bad settings: refused up front, nothing written --------------------
compile 2 "$T/cfg.json" -o "$T/bad1.json"
contains "$T/err" "knn: k: required"
compile 2 "$T/cfg.json" --set k=0 -o "$T/bad2.json"
contains "$T/err" "knn: k: expected an integer >= 1"
compile 2 "$T/cfg.json" --set k=3 --set neighbours=5 -o "$T/bad3.json"
contains "$T/err" "knn: neighbours: unknown setting"
compile 2 "$T/cfg.json" --set k=3 --set vectorizer=dense -o "$T/bad4.json"
contains "$T/err" "knn: vectorizer: expected"
for n in 1 2 3 4; do
  check "bad settings $n: no program written" test ! -e "$T/bad$n.json"
done

finish
