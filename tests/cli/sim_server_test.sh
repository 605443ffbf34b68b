#!/bin/sh
# sim_server_test.sh - `promptc sim-server` over real HTTP on loopback:
# each API (OpenAI, Anthropic, Ollama), whole and streamed, answers exactly
# what the in-process sim answers; choices; /stats; every fault; the
# reproducible fault sequence; auth, context length, model listing, drift;
# address and flag errors; a clean stop on SIGTERM and SIGINT.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

command -v python3 >/dev/null 2>&1 ||
  { echo "skip: python3 is needed"; exit 77; }

ex="$PC_TEST_SRCDIR/../examples/triage"
export XDG_CACHE_HOME="$pc_tmp/xdg"
servers=""
trap 'for p in $servers; do kill "$p" 2>/dev/null; done; rm -rf "$pc_tmp"' EXIT

# start NAME ARGS...: start a sim-server on a free port with the triage
# sim, wait for its port file; $port is its port.
start() {
  name=$1; shift
  "$PC_PROMPTC" sim-server --config "$ex/sim.json" --listen 127.0.0.1:0 \
    --port-file "$pc_tmp/$name.port" "$@" \
    >"$pc_tmp/$name.out" 2>"$pc_tmp/$name.err" &
  eval "pid_$name=$!"
  servers="$servers $!"
  i=0
  while [ ! -s "$pc_tmp/$name.port" ] && [ $i -lt 300 ]; do
    sleep 0.1; i=$((i + 1))
  done
  if [ -s "$pc_tmp/$name.port" ]; then
    port=$(cat "$pc_tmp/$name.port")
    ok "sim-server $name started on port $port"
  else
    port=0
    not_ok "sim-server $name did not start"
    sed 's/^/    stderr: /' "$pc_tmp/$name.err" | head -n 20
  fi
}

# stop NAME [SIGNAL]: stop it and check that it exits 0 and removes its
# port file.
stop() {
  eval "p=\$pid_$2"
  kill "-${1}" "$p" 2>/dev/null
  wait "$p"
  st=$?
  if [ "$st" -eq 0 ] && [ ! -e "$pc_tmp/$2.port" ]; then
    ok "sim-server $2 stops cleanly on SIG$1"
  else
    not_ok "sim-server $2 exited $st on SIG$1"
    sed 's/^/    stderr: /' "$pc_tmp/$2.err" | head -n 20
  fi
}

# The client: the standard library's http.client only.
cat >"$pc_tmp/simclient.py" <<'PY'
import http.client, json, sys, time

def req(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, data

def settled_stats(port):
    """/stats once no request is in flight: a client may read its whole
    answer a moment before the server's completion callback counts the
    request as done (waits at most 5 s)."""
    for _ in range(100):
        s = json.loads(req(port, "GET", "/stats")[2])
        if s["in_flight"] == 0:
            break
        time.sleep(0.05)
    return s

def sse(data):
    """[(event, json)] of an SSE body; [DONE] is (None, "[DONE]")."""
    out, event = [], None
    for line in data.decode().split("\n"):
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            d = line[6:]
            out.append((event, d if d == "[DONE]" else json.loads(d)))
            event = None
    return out

def split_system(msgs):
    system = "".join(m["content"] for m in msgs if m["role"] == "system")
    return system, [m for m in msgs if m["role"] != "system"]

def openai(port, msgs, stream=False, headers=None, **kw):
    body = dict(model="sim", messages=msgs, stream=stream, **kw)
    if stream:
        body["stream_options"] = {"include_usage": True}
    st, h, data = req(port, "POST", "/v1/chat/completions", body, headers)
    assert st == 200, (st, data)
    assert h.get("x-request-id"), h
    if not stream:
        o = json.loads(data)
        assert o["object"] == "chat.completion", o
        return [c["message"]["content"] for c in o["choices"]], o
    ev = sse(data)
    assert ev[-1] == (None, "[DONE]"), ev[-1]
    texts, usage = {}, None
    for _, c in ev[:-1]:
        assert c["object"] == "chat.completion.chunk", c
        if c.get("usage"):
            usage = c["usage"]
        for ch in c["choices"]:
            texts.setdefault(ch["index"], "")
            texts[ch["index"]] += ch["delta"].get("content") or ""
    return [texts[i] for i in sorted(texts)], {"usage": usage, "events": ev}

def anthropic(port, msgs, stream=False, headers=None, **kw):
    system, rest = split_system(msgs)
    h = {"anthropic-version": "2023-06-01"}
    h.update(headers or {})
    body = dict(model="sim", system=system, messages=rest, max_tokens=512,
                stream=stream, **kw)
    st, hd, data = req(port, "POST", "/v1/messages", body, h)
    assert st == 200, (st, data)
    assert hd.get("request-id"), hd
    if not stream:
        o = json.loads(data)
        assert o["type"] == "message" and o["stop_reason"] == "end_turn", o
        return o["content"][0]["text"], o
    ev = sse(data)
    names = [e for e, _ in ev]
    assert names[:3] == ["message_start", "content_block_start", "ping"], names
    assert names[-3:] == ["content_block_stop", "message_delta",
                          "message_stop"], names
    text = "".join(d["delta"]["text"] for e, d in ev
                   if e == "content_block_delta")
    return text, {"events": ev}

def ollama(port, msgs, stream=False, headers=None, model=None, **kw):
    body = dict(model=model or MODEL, messages=msgs, **kw)
    if stream is not None:
        body["stream"] = stream
    st, h, data = req(port, "POST", "/api/chat", body, headers)
    assert st == 200, (st, data)
    if stream is False:
        o = json.loads(data)
        assert o["done"] is True, o
        return o["message"]["content"], o
    lines = [json.loads(l) for l in data.decode().splitlines()]
    assert all(not l["done"] for l in lines[:-1]) and lines[-1]["done"]
    return "".join(l["message"]["content"] for l in lines), lines[-1]

TRACE = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else None
MODEL = TRACE["trace"][0]["model"] if TRACE else None
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 0
PY
export PYTHONPATH="$pc_tmp"

# The in-process sim on three inputs: the reference answers.
python3 - "$ex" "$pc_tmp" <<'PY'
import json, sys
ex, tmp = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(ex + "/data/test.jsonl")][:2]
ins = [json.load(open(ex + "/input.json"))]
ins += [{"ticket": r["ticket"], "policy": r["policy"]} for r in rows]
for i, x in enumerate(ins):
    json.dump(x, open("%s/in%d.json" % (tmp, i), "w"))
PY
for i in 0 1 2; do
  run_promptc 0 run "$ex/program.json" --config "$ex/sim.json" \
    --input-json "@$pc_tmp/in$i.json" --trace --no-cache
  cp "$pc_tmp/out" "$pc_tmp/trace$i.json"
done

# ---- one server without faults -----------------------------------------
start plain
contains "$pc_tmp/plain.out" "sim-server: listening on http://127.0.0.1:$port"

for i in 0 1 2; do
  check "input $i: every API, whole and streamed, gives the in-process text" \
    python3 - "$port" "$pc_tmp/trace$i.json" <<'PY'
from simclient import *
call = TRACE["trace"][0]
msgs = [{"role": m["role"], "content": m["content"]} for m in call["messages"]]
want = call["completion"]
for stream in (False, True):
    texts, o = openai(PORT, msgs, stream=stream, temperature=0)
    assert texts == [want], (stream, texts, want)
    u = o["usage"]
    assert u["prompt_tokens"] == call["usage"]["prompt_tokens"], u
    assert u["completion_tokens"] == call["usage"]["completion_tokens"], u
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    text, o = anthropic(PORT, msgs, stream=stream)
    assert text == want, ("anthropic", stream, text)
    text, o = ollama(PORT, msgs, stream=stream, options={"temperature": 0})
    assert text == want, ("ollama", stream, text)
    assert o["eval_count"] == call["usage"]["completion_tokens"], o
# Ollama streams when "stream" is absent, as Ollama does.
text, last = ollama(PORT, msgs, stream=None)
assert text == want and last["done_reason"] == "stop", last
PY
done

check "streams come in pieces of at most 16 bytes, split on UTF-8 characters" \
  python3 - "$port" "$pc_tmp/trace0.json" <<'PY'
from simclient import *
# A request the sim does not recognise gets a fixed sentence; the
# multi-byte characters of the system text do not matter, the pieces do.
msgs = [{"role": "system", "content": "h\u00e9llo"},
        {"role": "user", "content": "\u00e9t\u00e9 " * 20}]
texts, o = openai(PORT, msgs, stream=True)
pieces = [c["choices"][0]["delta"].get("content") for e, c in o["events"][:-1]
          if c["choices"]]
pieces = [p for p in pieces if p]
assert len(pieces) > 2 and "".join(pieces) == texts[0], pieces
assert all(0 < len(p.encode()) <= 16 for p in pieces), pieces
first = o["events"][0][1]["choices"][0]["delta"]
assert first == {"role": "assistant", "content": ""}, first
# The finish chunk, then the usage chunk with no choices.
assert o["events"][-3][1]["choices"][0]["finish_reason"] == "stop"
assert o["events"][-2][1]["choices"] == [] and o["usage"]
PY

check "n=3 with a rollout id equals choice headers 0, 1, 2 on every API" \
  python3 - "$port" "$pc_tmp/trace1.json" <<'PY'
from simclient import *
call = TRACE["trace"][0]
msgs = [{"role": m["role"], "content": m["content"]} for m in call["messages"]]
hdr = {"X-Promptc-Rollout": "r7"}
three, o = openai(PORT, msgs, n=3, temperature=1, headers=hdr)
assert len(three) == 3 and [c["index"] for c in o["choices"]] == [0, 1, 2]
streamed, _ = openai(PORT, msgs, stream=True, n=3, temperature=1, headers=hdr)
assert streamed == three, (streamed, three)
for i in range(3):
    h = dict(hdr, **{"X-Promptc-Choice": str(i)})
    one, _ = openai(PORT, msgs, temperature=1, headers=h)
    assert one == [three[i]], (i, one, three)
    text, _ = anthropic(PORT, msgs, temperature=1, headers=h)
    assert text == three[i], (i, text, three)
    text, _ = ollama(PORT, msgs, stream=False, headers=h,
                     options={"temperature": 1})
    assert text == three[i], (i, text, three)
# The samples differ, so a choice header that was ignored would show.
assert len(set(three)) > 1, three
PY

check "/stats counts requests by outcome and API; POST /stats/reset zeroes" \
  python3 - "$port" "$pc_tmp/trace0.json" <<'PY'
from simclient import *
st, _, data = req(PORT, "POST", "/stats/reset")
s = json.loads(data)
assert st == 200 and s["requests"] == 0 and s["by_outcome"]["ok"] == 0, s
call = TRACE["trace"][0]
msgs = [{"role": m["role"], "content": m["content"]} for m in call["messages"]]
openai(PORT, msgs)
anthropic(PORT, msgs)
ollama(PORT, msgs, stream=False)
st, _, data = req(PORT, "POST", "/v1/chat/completions", b"{not json")
assert st == 400 and json.loads(data)["error"]["type"] == \
    "invalid_request_error", data
st, _, data = req(PORT, "POST", "/v1/messages", {"model": "m", "messages":
                  msgs[1:]}, {"anthropic-version": "2023-06-01"})
assert st == 400 and "max_tokens" in json.loads(data)["error"]["message"]
st, _, data = req(PORT, "POST", "/v1/messages", {"model": "m", "max_tokens": 9,
                  "messages": msgs[1:]})
assert st == 400 and "anthropic-version" in data.decode(), data
st, _, data = req(PORT, "POST", "/api/chat", {"model": "llama3",
                  "messages": msgs})
assert st == 404 and json.loads(data) == {"error": "model \"llama3\" not "
    "found, try pulling it first"}, data
st, _, data = req(PORT, "GET", "/v2/nothing")
assert st == 404 and json.loads(data)["error"]["code"] == "not_found"
s = settled_stats(PORT)
o = s["by_outcome"]
assert s["requests"] == 8, s
assert o["ok"] == 3 and o["bad_request"] == 3 and o["not_found"] == 2, o
assert sum(o.values()) == 8, o
assert s["by_api"] == {"openai": 2, "anthropic": 3, "ollama": 2,
                       "other": 1}, s["by_api"]
assert s["in_flight"] == 0 and s["connections"] >= 8, s
PY

check "/api/tags and /api/show give the model and sha256(identity)" \
  python3 - "$port" "$pc_tmp/trace0.json" <<'PY'
from simclient import *
import hashlib
digest = hashlib.sha256(MODEL.encode()).hexdigest()
st, _, data = req(PORT, "GET", "/api/tags")
m = json.loads(data)["models"]
assert st == 200 and len(m) == 1, data
assert m[0]["name"] == MODEL and m[0]["model"] == MODEL, m
assert m[0]["digest"] == digest, (m, digest)
assert m[0]["details"]["family"] == "sim", m
st, _, data = req(PORT, "POST", "/api/show", {"model": MODEL})
assert st == 200 and json.loads(data)["digest"] == digest, data
st, _, data = req(PORT, "POST", "/api/show", {"model": MODEL + ":latest"})
assert st == 200, data
st, _, data = req(PORT, "POST", "/api/show", {"model": "other"})
assert st == 404 and "not found" in json.loads(data)["error"], data
# The OpenAI fingerprint is derived from the same hash.
texts, o = openai(PORT, [{"role": "system", "content": "s"},
                         {"role": "user", "content": "u"}])
assert o["system_fingerprint"] == "fp_" + digest[:10], o
assert o["model"] == MODEL and o["id"].startswith("chatcmpl-"), o
PY

check "concurrent requests are served at once (thread per connection)" \
  python3 - "$port" <<'PY'
from simclient import *
import threading
req(PORT, "POST", "/stats/reset")
# /api/show holds nothing; use the LM route with latency-free answers but
# many at once: at least some overlap is certain with 16 threads.
msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
errors = []
def one():
    try:
        openai(PORT, msgs)
    except Exception as e:
        errors.append(e)
ts = [threading.Thread(target=one) for _ in range(16)]
[t.start() for t in ts]
[t.join() for t in ts]
assert not errors, errors
s = settled_stats(PORT)
assert s["by_outcome"]["ok"] == 16 and s["in_flight"] == 0, s
PY
check "a request the sim refuses (no system message) is a 400, not a dropped connection" \
  python3 - "$port" <<'PY'
from simclient import *
status, headers, body = req(PORT, "POST", "/v1/chat/completions",
    json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
assert status == 400, (status, body)
assert json.loads(body)["error"]["message"], body
PY
stop TERM plain

# ---- latency ------------------------------------------------------------
start slow --latency-ms 300
check "--latency-ms sleeps each request, in parallel across connections" \
  python3 - "$port" <<'PY'
from simclient import *
import threading, time
msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
t0 = time.monotonic()
openai(PORT, msgs)
assert time.monotonic() - t0 >= 0.29
ts = [threading.Thread(target=openai, args=(PORT, msgs)) for _ in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
s = json.loads(req(PORT, "GET", "/stats")[2])
# Eight requests sleeping 300 ms each: they overlap unless serialised.
assert s["max_in_flight"] >= 4 and s["by_outcome"]["ok"] == 9, s
PY
stop INT slow

# ---- faults at fraction 1 ----------------------------------------------
start f429 --fail-429 1
check "--fail-429 1: 429 with Retry-After: 1 in each API's error shape" \
  python3 - "$port" <<'PY'
from simclient import *
msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
st, h, data = req(PORT, "POST", "/v1/chat/completions",
                  {"model": "m", "messages": msgs})
assert st == 429 and h["retry-after"] == "1", (st, h)
assert json.loads(data)["error"]["code"] == "rate_limit_exceeded", data
st, h, data = req(PORT, "POST", "/v1/messages", {"model": "m", "max_tokens":
                  5, "system": "s", "messages": msgs[1:]},
                  {"anthropic-version": "2023-06-01"})
e = json.loads(data)
assert st == 429 and e["type"] == "error" and \
    e["error"]["type"] == "rate_limit_error", (st, data)
st, h, data = req(PORT, "GET", "/api/tags")
assert st == 200, "faults never apply to /api/tags"
s = json.loads(req(PORT, "GET", "/stats")[2])
assert s["by_outcome"]["rate_limited"] == 2, s
PY
stop TERM f429

start f429ms --fail-429 1 --retry-after ms:250
check "--retry-after ms:250 sends retry-after-ms: 250 and Retry-After: 1" \
  python3 - "$port" "$pc_tmp/trace0.json" <<'PY'
from simclient import *
st, h, data = req(PORT, "POST", "/api/chat", {"model": MODEL, "messages": []})
# Validation comes before faults: a bad request is a 400 even here.
assert st == 400, (st, data)
st, h, data = req(PORT, "POST", "/v1/chat/completions", {"model": "m",
                  "messages": [{"role": "user", "content": "u"}]})
assert st == 429 and h["retry-after-ms"] == "250" and \
    h["retry-after"] == "1", h
PY
stop TERM f429ms

start f429date --fail-429 1 --retry-after date
check "--retry-after date sends an HTTP date about a second ahead" \
  python3 - "$port" <<'PY'
from simclient import *
import email.utils, time
st, h, data = req(PORT, "POST", "/v1/chat/completions", {"model": "m",
                  "messages": [{"role": "user", "content": "u"}]})
when = email.utils.parsedate_to_datetime(h["retry-after"]).timestamp()
assert st == 429 and h["retry-after"].endswith(" GMT"), h
assert -2 <= when - time.time() <= 3, (h, time.time())
PY
stop TERM f429date

start f500 --fail-500 1
check "--fail-500 1: 500 in each API's error shape" \
  python3 - "$port" <<'PY'
from simclient import *
msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
st, h, data = req(PORT, "POST", "/v1/chat/completions",
                  {"model": "m", "messages": msgs})
assert st == 500 and json.loads(data)["error"]["type"] == "server_error"
st, h, data = req(PORT, "POST", "/v1/messages", {"model": "m", "max_tokens":
                  5, "messages": msgs[1:]}, {"anthropic-version": "1"})
assert st == 500 and json.loads(data)["error"]["type"] == "api_error", data
st, h, data = req(PORT, "POST", "/api/chat", {"model": "x", "messages": msgs})
assert st == 404, "an unknown Ollama model is refused before any fault"
PY
stop TERM f500

start f503 --fail-503 1
check "--fail-503 1: 503 (Anthropic: overloaded_error)" \
  python3 - "$port" "$pc_tmp/trace0.json" <<'PY'
from simclient import *
msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
st, h, data = req(PORT, "POST", "/v1/messages", {"model": "m", "max_tokens":
                  5, "messages": msgs[1:]}, {"anthropic-version": "1"})
assert st == 503 and \
    json.loads(data)["error"]["type"] == "overloaded_error", data
st, h, data = req(PORT, "POST", "/api/chat", {"model": MODEL,
                  "messages": msgs})
assert st == 503 and "error" in json.loads(data), data
s = json.loads(req(PORT, "GET", "/stats")[2])
assert s["by_outcome"]["error_503"] == 2, s
PY
stop TERM f503

start fstall --stall 1 --stall-ms 400
check "--stall 1: nothing is sent, then the connection closes" \
  python3 - "$port" <<'PY'
from simclient import *
import time
t0 = time.monotonic()
try:
    req(PORT, "POST", "/v1/chat/completions", {"model": "m", "messages":
        [{"role": "user", "content": "u"}]})
    raise SystemExit("a stalled request got a response")
except (http.client.RemoteDisconnected, ConnectionResetError):
    pass
assert time.monotonic() - t0 >= 0.35
# A client timeout shorter than the stall sees a timeout.
try:
    req(PORT, "POST", "/v1/chat/completions", {"model": "m", "messages":
        [{"role": "user", "content": "v"}]}, timeout=0.1)
    raise SystemExit("no timeout")
except TimeoutError:
    pass
s = json.loads(req(PORT, "GET", "/stats")[2])
assert s["by_outcome"]["stalled"] == 2, s
PY
stop TERM fstall

start ftrunc --truncate 1
check "--truncate 1: a body shorter than its Content-Length, a cut stream" \
  python3 - "$port" <<'PY'
from simclient import *
msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
for path, body in (("/v1/chat/completions", {"model": "m", "messages": msgs}),
                   ("/v1/messages", {"model": "m", "max_tokens": 9,
                    "system": "s", "messages": msgs[1:]})):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    c.request("POST", path, json.dumps(body), {"anthropic-version": "1"})
    r = c.getresponse()
    assert r.status == 200, r.status
    length = int(r.getheader("Content-Length"))
    try:
        r.read()
        raise SystemExit("the whole body arrived")
    except http.client.IncompleteRead as e:
        assert 0 < len(e.partial) < length, (len(e.partial), length)
for stream_body in ({"model": "m", "messages": msgs, "stream": True},):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    c.request("POST", "/v1/chat/completions", json.dumps(stream_body))
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Length") is None
    try:
        data = r.read()
        assert b"[DONE]" not in data, "the stream was not cut"
    except http.client.IncompleteRead as e:
        assert b"[DONE]" not in e.partial
s = json.loads(req(PORT, "GET", "/stats")[2])
assert s["by_outcome"]["truncated"] == 3, s
PY
stop TERM ftrunc

start fmal --malformed 1
check "--malformed 1: 200 with unparseable JSON and broken stream lines" \
  python3 - "$port" "$pc_tmp/trace0.json" <<'PY'
from simclient import *
msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
st, h, data = req(PORT, "POST", "/v1/chat/completions",
                  {"model": "m", "messages": msgs})
assert st == 200 and int(h["content-length"]) == len(data)
try:
    json.loads(data)
    raise SystemExit("parsed")
except json.JSONDecodeError:
    pass
st, h, data = req(PORT, "POST", "/v1/chat/completions",
                  {"model": "m", "messages": msgs, "stream": True})
try:
    sse(data)
    raise SystemExit("parsed")
except json.JSONDecodeError:
    pass
st, h, data = req(PORT, "POST", "/api/chat", {"model": MODEL,
                  "messages": msgs})
assert st == 200
try:
    [json.loads(l) for l in data.decode().splitlines()]
    raise SystemExit("parsed")
except json.JSONDecodeError:
    pass
PY
stop TERM fmal

# ---- the fault sequence of one request is the same across runs ---------
for run in 1 2; do
  start "seq$run" --fail-429 0.3 --fail-500 0.2 --fail-503 0.1 --seed 11
  python3 - "$port" >"$pc_tmp/seq$run.txt" <<'PY'
from simclient import *
import threading
body = {"model": "m", "messages": [{"role": "system", "content": "s"},
                                   {"role": "user", "content": "same"}]}
print([req(PORT, "POST", "/v1/chat/completions", body)[0]
       for _ in range(16)])
# Other requests in between, in parallel, change nothing for this one.
other = dict(body, messages=body["messages"][:1] +
             [{"role": "user", "content": "other"}])
ts = [threading.Thread(target=req, args=(PORT, "POST",
      "/v1/chat/completions", other)) for _ in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
print([req(PORT, "POST", "/v1/chat/completions", body)[0]
       for _ in range(8)])
PY
  stop TERM "seq$run"
done
check "the same request meets the same faults in two runs" \
  cmp -s "$pc_tmp/seq1.txt" "$pc_tmp/seq2.txt"
check "that sequence mixes answers and several faults" \
  python3 - "$pc_tmp/seq1.txt" <<'PY'
import ast, sys
seq = sum((ast.literal_eval(l) for l in open(sys.argv[1])), [])
assert len(seq) == 24 and 200 in seq and 429 in seq and 500 in seq, seq
assert len(set(seq)) >= 3, seq
PY
start seq3 --fail-429 0.3 --fail-500 0.2 --fail-503 0.1 --seed 12
python3 - "$port" >"$pc_tmp/seq3.txt" <<'PY'
from simclient import *
body = {"model": "m", "messages": [{"role": "system", "content": "s"},
                                   {"role": "user", "content": "same"}]}
print([req(PORT, "POST", "/v1/chat/completions", body)[0]
       for _ in range(16)])
PY
stop TERM seq3
check "another --seed gives another sequence" \
  sh -c "! head -n 1 '$pc_tmp/seq1.txt' | cmp -s - '$pc_tmp/seq3.txt'"

# ---- auth, context length, drift ----------------------------------------
SIM_TEST_KEY="sk-planted-7f3a9c2e5b1d4086"
export SIM_TEST_KEY
start auth --api-key env:SIM_TEST_KEY --max-context-tokens 40
check "a wrong or missing key is 401 in each API's shape, the right one 200" \
  python3 - "$port" "$pc_tmp/trace0.json" "$pc_tmp/auth.txt" <<'PY'
from simclient import *
import os
key = os.environ["SIM_TEST_KEY"]
msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
seen = []
def bad(path, body, headers):
    st, h, data = req(PORT, "POST", path, body, headers)
    assert st == 401, (path, st, data)
    seen.append(data.decode() + json.dumps(h))
    return json.loads(data)
oa = {"model": "m", "messages": msgs}
e = bad("/v1/chat/completions", oa, {"Authorization": "Bearer " + key[:-1]})
assert e["error"]["code"] == "invalid_api_key" and \
    e["error"]["message"] == "Incorrect API key provided.", e
bad("/v1/chat/completions", oa, {})
bad("/v1/chat/completions", oa, {"Authorization": key})
an = {"model": "m", "max_tokens": 5, "system": "s", "messages": msgs[1:]}
e = bad("/v1/messages", an, {"x-api-key": key + "x",
                             "anthropic-version": "1"})
assert e == {"type": "error", "error": {"type": "authentication_error",
                                        "message": "invalid x-api-key"}}, e
bad("/v1/messages", an, {"Authorization": "Bearer " + key,
                         "anthropic-version": "1"})
e = bad("/api/chat", {"model": MODEL, "messages": msgs},
        {"Authorization": "Bearer nope"})
assert e == {"error": "unauthorized"}, e
st, h, data = req(PORT, "GET", "/api/tags")
assert st == 401, st
openai(PORT, msgs, headers={"Authorization": "Bearer " + key})
anthropic(PORT, msgs, headers={"x-api-key": key})
ollama(PORT, msgs, stream=False, headers={"Authorization": "Bearer " + key})
# No part of the key (8 characters or more) in any reply.
for text in seen:
    for i in range(len(key) - 7):
        assert key[i:i + 8] not in text, text
open(sys.argv[3], "w").write("\n".join(seen))
PY
check "context length: 400 with each API's message and numbers" \
  python3 - "$port" "$pc_tmp/trace0.json" <<'PY'
from simclient import *
import os
auth = {"Authorization": "Bearer " + os.environ["SIM_TEST_KEY"],
        "x-api-key": os.environ["SIM_TEST_KEY"], "anthropic-version": "1"}
msgs = [{"role": "system", "content": "s" * 100},
        {"role": "user", "content": "u" * 100}]  # 200 bytes: 50 tokens
st, h, data = req(PORT, "POST", "/v1/chat/completions",
                  {"model": "m", "messages": msgs}, auth)
e = json.loads(data)["error"]
assert st == 400 and e["code"] == "context_length_exceeded", data
assert e["message"] == ("This model's maximum context length is 40 tokens. "
                        "However, your messages resulted in 50 tokens."), e
st, h, data = req(PORT, "POST", "/v1/messages", {"model": "m",
                  "max_tokens": 5, "system": msgs[0]["content"],
                  "messages": msgs[1:]}, auth)
e = json.loads(data)["error"]
assert st == 400 and e["type"] == "invalid_request_error" and \
    e["message"] == "prompt is too long: 50 tokens > 40 maximum", data
st, h, data = req(PORT, "POST", "/api/chat", {"model": MODEL,
                  "messages": msgs}, auth)
assert st == 400 and json.loads(data) == {"error": "prompt too long; "
    "exceeded max context length by 10 tokens"}, data
s = json.loads(req(PORT, "GET", "/stats")[2])
assert s["by_outcome"]["context_length"] == 3, s
PY
stop TERM auth
if grep -qF "$SIM_TEST_KEY" "$pc_tmp"/auth.* ; then
  not_ok "the key appears in the server's output"
else
  ok "the key appears nowhere in the server's output"
fi

start drift --drift-after 2 --model-name sim-served
check "--drift-after 2: the third answer has another fingerprint and digest" \
  python3 - "$port" <<'PY'
from simclient import *
msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
d0 = json.loads(req(PORT, "GET", "/api/tags")[2])["models"][0]
assert d0["name"] == "sim-served", d0
fps = [openai(PORT, msgs)[1]["system_fingerprint"] for _ in range(3)]
assert fps[0] == fps[1] != fps[2], fps
assert fps[2].startswith("fp_") and len(fps[2]) == 13, fps
d1 = json.loads(req(PORT, "GET", "/api/tags")[2])["models"][0]
assert d1["digest"] != d0["digest"] and len(d1["digest"]) == 64, (d0, d1)
_, o = ollama(PORT, msgs, stream=False, model="sim-served:latest")
assert o["model"] == "sim-served", o
PY
stop TERM drift

# ---- shutdown wakes stalls, latency sleeps and slow sim calls ----------
python3 - "$ex" "$pc_tmp/slowsim.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1] + "/sim.json"))
lm = cfg["lm"]
lm["knowledge"] = [sys.argv[1] + "/" + k for k in lm["knowledge"]]
lm["latency_ms"] = 60000
json.dump(cfg, open(sys.argv[2], "w"))
PY
for what in stall latency simcall; do
  case $what in
  stall) start wake --stall 1 --stall-ms 60000 ;;
  latency) start wake --latency-ms 60000 ;;
  simcall) start wake --config "$pc_tmp/slowsim.json" ;;
  esac
  python3 - "$port" <<'PY' &
from simclient import *
try:
    req(PORT, "POST", "/v1/chat/completions", {"model": "m", "messages":
        [{"role": "system", "content": "s"},
         {"role": "user", "content": "u"}]})
except Exception:
    pass
PY
  client=$!
  sleep 0.5
  t0=$(date +%s)
  stop TERM wake
  t1=$(date +%s)
  wait "$client"
  check "a $what in progress does not hold the shutdown back" \
    test $((t1 - t0)) -lt 10
done

# ---- addresses and flags -------------------------------------------------
run_promptc 2 sim-server --config "$ex/sim.json" --listen 0.0.0.0:0
contains "$pc_tmp/err" "0.0.0.0 is not a loopback address"
contains "$pc_tmp/err" "--force"
run_promptc 2 sim-server --config "$ex/sim.json" --listen "[2001:db8::1]:0"
contains "$pc_tmp/err" "2001:db8::1 is not a loopback address"
run_promptc 2 sim-server --config "$ex/sim.json" --listen localhost
contains "$pc_tmp/err" "--listen localhost"
run_promptc 2 sim-server --config "$ex/sim.json" --listen 127.0.0.1:70000
run_promptc 2 sim-server --config "$ex/sim.json" --fail-429 1.5
contains "$pc_tmp/err" "--fail-429"
run_promptc 2 sim-server --config "$ex/sim.json" --fail-500 0.6 --stall 0.6
contains "$pc_tmp/err" "sum to 1.2"
run_promptc 2 sim-server --config "$ex/sim.json" --truncate abc
contains "$pc_tmp/err" "--truncate"
run_promptc 2 sim-server --config "$ex/sim.json" --latency-ms -5
contains "$pc_tmp/err" "--latency-ms"
run_promptc 2 sim-server --config "$ex/sim.json" --retry-after soon
contains "$pc_tmp/err" "--retry-after"
run_promptc 2 sim-server --config "$ex/sim.json" --drift-after 0
contains "$pc_tmp/err" "--drift-after"
run_promptc 2 sim-server --config "$ex/sim.json" --api-key env:PC_NO_SUCH_VAR
contains "$pc_tmp/err" "--api-key"
run_promptc 2 sim-server --config "$ex/sim.json" --api-key plaintext-secret
contains "$pc_tmp/err" "--api-key"
run_promptc 2 sim-server --config "$ex/sim.json" --bogus
run_promptc 2 sim-server --listen 127.0.0.1:0
contains "$pc_tmp/err" "--config is required"
printf '{"adapter": "chat"}' >"$pc_tmp/nolm.json"
run_promptc 3 sim-server --config "$pc_tmp/nolm.json"
contains "$pc_tmp/err" "no \"lm\" configured"
run_promptc 0 sim-server --help
for flag in --config --listen --force --port-file --model-name --drift-after \
    --api-key --max-context-tokens --latency-ms --latency-jitter-ms \
    --fail-429 --retry-after --fail-500 --fail-503 --stall --stall-ms \
    --truncate --malformed --seed; do
  contains "$pc_tmp/out" "$flag "
done

# An address in use: exit 4, naming it.
start busy
run_promptc 4 sim-server --config "$ex/sim.json" --listen "127.0.0.1:$port"
contains "$pc_tmp/err" "127.0.0.1:$port"
stop TERM busy

finish
