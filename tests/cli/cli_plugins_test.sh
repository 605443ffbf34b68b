#!/bin/sh
# cli_plugins_test.sh - `promptc plugins list|info` end to end: both
# adapters listed with version and sha256, info by id and name, JSON
# output, broken plugins reported by file name, usage errors.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

b=${PC_TEST_BUILDDIR:-.}
chat_so="$b/plugins/adapter-chat/.libs/adapter-chat.so"
json_so="$b/plugins/adapter-json/.libs/adapter-json.so"

run_promptc 0 plugins list
contains "$pc_tmp/out" "org.promptc.adapter.chat"
contains "$pc_tmp/out" "org.promptc.adapter.json"
contains "$pc_tmp/out" "adapter:chat"
contains "$pc_tmp/out" "adapter:json"
contains "$pc_tmp/out" "$(sha256sum "$chat_so" | cut -d' ' -f1)"
contains "$pc_tmp/out" "$(sha256sum "$json_so" | cut -d' ' -f1)"
contains "$pc_tmp/out" "1.0.0"

run_promptc 0 plugins list --json
check "plugins list --json is a JSON array of the built plugins" \
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert {p["name"] for p in d}=={"chat","json","sim","openai","anthropic","ollama","metric-basic","labeled","bootstrap","bootstrap-rs","knn","copro","miprov2","simba","gepa","export-finetune","better-together","http-search"}, d; assert all(len(p["sha256"])==64 for p in d)' "$pc_tmp/out"

run_promptc 0 plugins info chat
contains "$pc_tmp/out" "org.promptc.adapter.chat"
contains "$pc_tmp/out" "pc.adapter/1 \"chat\""
contains "$pc_tmp/out" "MIT"
run_promptc 0 plugins info org.promptc.adapter.json --json
contains "$pc_tmp/out" "\"name\": \"json\""
run_promptc 1 plugins info no-such-plugin
contains "$pc_tmp/err" "no loaded plugin has id or name 'no-such-plugin'"

# A directory with broken plugins: each is named on stderr; good ones list.
mkdir "$pc_tmp/plugins"
for f in wrong_major failing_init no_entry good; do
  cp "$b/tests/plugins/.libs/fx_$f.so" "$pc_tmp/plugins/"
done
PROMPTC_PLUGIN_PATH="$pc_tmp/plugins" run_promptc 0 plugins list
contains "$pc_tmp/err" "$pc_tmp/plugins/fx_wrong_major.so: wrong ABI major 2"
contains "$pc_tmp/err" "$pc_tmp/plugins/fx_failing_init.so: init of org.promptc.test.failing-init failed"
contains "$pc_tmp/err" "$pc_tmp/plugins/fx_no_entry.so: no pc_plugin_entry_v1 symbol"
contains "$pc_tmp/out" "org.promptc.test.good"

# A world-writable plugin is refused with its name.
chmod 666 "$pc_tmp/plugins/fx_good.so"
PROMPTC_PLUGIN_PATH="$pc_tmp/plugins" run_promptc 0 plugins list
contains "$pc_tmp/err" "fx_good.so: refused: the file is world-writable"

# plugins.path from a config file, relative to the config's folder.
mkdir "$pc_tmp/cfg"
chmod 644 "$pc_tmp/plugins/fx_good.so"
printf '{"plugins": {"path": ["../plugins"]}}\n' >"$pc_tmp/cfg/c.json"
PROMPTC_PLUGIN_PATH= run_promptc 0 plugins list --config "$pc_tmp/cfg/c.json"
contains "$pc_tmp/out" "org.promptc.test.good"
printf '{"plugins": {"dirs": []}}\n' >"$pc_tmp/cfg/bad.json"
run_promptc 3 plugins list --config "$pc_tmp/cfg/bad.json"
contains "$pc_tmp/err" "bad.json: plugins.dirs: unknown member"

run_promptc 2 plugins frobnicate
run_promptc 2 plugins
run_promptc 0 plugins --help
contains "$pc_tmp/out" "usage: promptc plugins list"
run_promptc 2 no-such-command
run_promptc 0 --version
contains "$pc_tmp/out" "plugin ABI 1.2"
finish
