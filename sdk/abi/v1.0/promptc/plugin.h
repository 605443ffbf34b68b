/*
 * sdk/abi/v1.0/promptc/plugin.h - FROZEN: the plugin ABI exactly as
 * released at 1.0 (git c15d477:sdk/include/promptc/plugin.h), kept
 * read-only below this comment. Never edit it: it is what the ABI gate
 * (tests/cli/abi_test.sh) and the old-plugin fixture
 * (tests/plugins/fx_v10.c) build from, to prove that today's host still
 * serves a plugin compiled against 1.0. The live header is
 * sdk/include/promptc/plugin.h; sdk/abi/README.md says more.
 */
/*
 * promptc/plugin.h - the stable plugin ABI of promptc, version 1.
 *
 * This is the only header a plugin includes. It is C99 and C++ clean and
 * includes nothing beyond <stddef.h> and <stdint.h>. Everything a plugin may
 * use of the host reaches it through function tables passed in at run time,
 * so a plugin links nothing from the host and is built with -Wl,-z,defs.
 *
 * ---------------------------------------------------------------------------
 * 1. Shape of the ABI
 *
 * A plugin .so exports exactly one symbol, pc_plugin_entry_v1, in the
 * version-script node PROMPTC_PLUGIN_1. The ABI major is part of the symbol
 * name: a v2 host looks for pc_plugin_entry_v2, so a v1 plugin can never be
 * misread as v2. Build with -fvisibility=hidden and mark the entry with
 * PC_PLUGIN_EXPORT.
 *
 * The entry returns a static descriptor (pc_plugin_info). The host then calls
 * init() once, and get_interface() for each interface it wants, by versioned
 * string id ("pc.adapter/1", ...). Each interface table, like every struct
 * that crosses the boundary, starts with a pc_abi_header whose struct_size
 * says how much of the struct the writer knows about. Fields are only ever
 * appended; a reader checks PC_HAS_FIELD() before touching a field newer
 * than v1.0. A NULL function pointer means "not supported".
 *
 * Struct fields use fixed-width integers, pointers and function pointers
 * only: no enum, bool, bitfield or long. Arrays of structs carry their
 * element size so elements can grow too.
 *
 * ---------------------------------------------------------------------------
 * 2. Ownership (the five rules)
 *
 *  a. Everything the host passes in is borrowed for the duration of the
 *     call. A plugin copies what it keeps.
 *  b. A plugin never returns heap memory for the host to free. Results go
 *     out through sinks (the host copies them before the sink returns), or
 *     are pointers into plugin-owned storage with a lifetime stated where
 *     they appear (the descriptor and interface tables are static).
 *  c. Objects a plugin creates are destroyed only by that plugin's own
 *     destroy()/fini().
 *  d. Memory that must change hands uses pc_host_api.alloc/free. The only
 *     such cases in v1 are documented on the functions concerned (for
 *     example pc_json_api.to_text), and they go host -> plugin.
 *  e. Strings are UTF-8 with an explicit length where a length is given,
 *     and NUL-terminated as well for convenience.
 *
 * JSON handles (pc_json) returned by the host are owned by the plugin until
 * it passes them to pc_json_api.free or hands them to a container
 * (object_set / array_append), which takes them over. Handles obtained from
 * getters (object_get, array_get, ...) are borrowed from their parent.
 *
 * ---------------------------------------------------------------------------
 * 3. Threads (three classes of call)
 *
 *  discovery  pc_plugin_entry_v1, get_interface: never concurrent with
 *             anything else in the same .so; must be cheap and free of side
 *             effects (no threads, I/O, allocation, global state).
 *  lifecycle  init, fini, create, destroy: serialised per plugin and per
 *             instance.
 *  call       format/parse, complete, score, compile, estimate: calls on
 *             different instances may run at once. Calls on the same
 *             instance run at once only if the plugin sets
 *             PC_PLUGIN_THREADSAFE_INSTANCES; otherwise the host serialises.
 *
 * Host functions may be called from any thread, including from inside a
 * sink callback. Plugins never change process-global state (setlocale,
 * signal handlers, environ, cwd, fork, stdio buffering, curl_global_init),
 * never print, exit, abort, or let longjmp or a C++ exception cross the
 * boundary, and never leave threads running after fini().
 *
 * ---------------------------------------------------------------------------
 * 4. Errors
 *
 * Functions return int: PC_OK (0) or one of the PC_E_* codes below. Codes
 * are stable and append-only; a retired code keeps its number. Details go
 * in a caller-provided pc_error (no allocation on the error path): set
 * `code`, one line of text in `message`, and for provider failures
 * http_status and retry_after_ms. The host decides retries from the code:
 * RATE_LIMITED, TIMEOUT, PROVIDER (5xx, a malformed or cut-short body) and
 * IO (no connection, a reset) may be retried, honouring retry_after_ms;
 * AUTH, INVALID_ARG and CONTEXT_LENGTH never are.
 *
 * ---------------------------------------------------------------------------
 * 5. Versions
 *
 * ABI 1.0 is everything in this file unless a comment says "since 1.N".
 * docs/ABI-HISTORY.md records the minor in which each field, function and
 * interface id appeared. The version-script node is PROMPTC_PLUGIN_1.
 */
#ifndef PROMPTC_PLUGIN_H
#define PROMPTC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PC_ABI_MAJOR 1
#define PC_ABI_MINOR 0

/* Mark the entry point (and nothing else) for export. */
#if defined(__GNUC__) || defined(__clang__)
#define PC_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define PC_PLUGIN_EXPORT
#endif

/* ------------------------------------------------------------------------ */
/* Status codes. Stable and append-only: never renumber or reuse.           */

#define PC_OK 0
#define PC_E_INVALID_ARG 1     /* bad input: config, signature, request */
#define PC_E_UNSUPPORTED 2     /* feature, interface or version missing */
#define PC_E_NOMEM 3           /* allocation failed */
#define PC_E_IO 4              /* file or transport I/O failed */
#define PC_E_TIMEOUT 5         /* a deadline passed */
#define PC_E_CANCELLED 6       /* the call was cancelled */
#define PC_E_RATE_LIMITED 7    /* provider said 429 / too many requests */
#define PC_E_AUTH 8            /* credentials refused (401/403) */
#define PC_E_CONTEXT_LENGTH 9  /* request exceeds the model's context */
#define PC_E_PROVIDER 10       /* provider failed (5xx, bad response) */
#define PC_E_PARSE 11          /* text could not be parsed (LM output, JSON) */
#define PC_E_BUDGET 12         /* a budget cap was reached */
#define PC_E_INTERNAL 13       /* a bug: an invariant did not hold */
#define PC_E_LAST 14           /* never used: one past the last code */

/* ------------------------------------------------------------------------ */
/* The header that starts every struct crossing the boundary.               */

typedef struct pc_abi_header {
  uint32_t struct_size;  /* sizeof the struct as the writer compiled it */
  uint16_t abi_major;    /* PC_ABI_MAJOR of the writer */
  uint16_t abi_minor;    /* PC_ABI_MINOR of the writer */
} pc_abi_header;

/* Initialiser for a struct of type T: .hdr = PC_ABI_HEADER_INIT(T). */
#define PC_ABI_HEADER_INIT(T) {(uint32_t)sizeof(T), PC_ABI_MAJOR, PC_ABI_MINOR}

/* True when struct pointer p (whose first member is `hdr`) is large enough
 * to hold field f of type T: check before using a field newer than 1.0. */
#define PC_HAS_FIELD(p, T, f) \
  ((p)->hdr.struct_size >= offsetof(T, f) + sizeof(((T *)0)->f))

/* Caller-provided error details. Initialise with PC_ERROR_INIT. */
#define PC_ERROR_MESSAGE_MAX 256

typedef struct pc_error {
  pc_abi_header hdr;
  int32_t code;            /* PC_E_* or PC_OK */
  int32_t http_status;     /* provider HTTP status, 0 if none */
  int64_t retry_after_ms;  /* provider's retry hint, -1 if none */
  char message[PC_ERROR_MESSAGE_MAX];  /* one line, NUL-terminated */
} pc_error;

#define PC_ERROR_INIT {PC_ABI_HEADER_INIT(pc_error), 0, 0, -1, {0}}

/* ------------------------------------------------------------------------ */
/* Opaque handles owned by the host.                                        */

typedef struct pc_json pc_json;  /* a JSON value (see pc_json_api) */
typedef struct pc_call pc_call;  /* one in-flight call: cancellation, deadline */

/* ------------------------------------------------------------------------ */
/* The host services table (passed to init; valid until fini returns).      */

#define PC_LOG_ERROR 0
#define PC_LOG_WARN 1
#define PC_LOG_INFO 2
#define PC_LOG_DEBUG 3

typedef struct pc_host_api {
  pc_abi_header hdr;
  void *ctx;  /* pass back as the first argument of every function below */

  /* Log one line (no trailing newline needed). `plugin_id` may be NULL. */
  void (*log)(void *ctx, int32_t level, const char *plugin_id,
              const char *msg, size_t len);

  /* Host allocator. Memory from alloc/realloc is released with free. NULL on
   * failure. free(NULL) does nothing. */
  void *(*alloc)(void *ctx, size_t n);
  void *(*realloc)(void *ctx, void *p, size_t n);
  void (*free)(void *ctx, void *p);

  /* Monotonic clock in nanoseconds; wall clock in ms since the Unix epoch. */
  uint64_t (*now_ns)(void *ctx);
  uint64_t (*wall_ms)(void *ctx);

  /* Seeded, stateless random numbers: the same (seed, purpose, index, draw)
   * always gives the same 64 bits, on every thread and every machine. Key a
   * random choice by what it is for (purpose, e.g. "shuffle-train"), which
   * item it concerns (index) and which draw it is (draw), never by time. */
  uint64_t (*rng_u64)(void *ctx, uint64_t seed, const char *purpose,
                      uint64_t index, uint64_t draw);

  /* Non-zero once `call` has been cancelled or its deadline has passed.
   * `call` may be NULL (asks whether the whole run is being cancelled). */
  int32_t (*is_cancelled)(void *ctx, const pc_call *call);

  /* Fetch a host service table by versioned id ("pc.json/1", "pc.values/1",
   * "pc.secrets/1", "pc.hash/1", "pc.http/1"). Returns a static table (valid until fini)
   * and its size in *size, or NULL when the host does not offer it. A
   * plugin that needs a missing service fails init with PC_E_UNSUPPORTED.
   * The functions of those tables take this table's `ctx` as their `ctx`
   * argument. */
  const void *(*get_host_interface)(void *ctx, const char *id,
                                    uint32_t *size);
} pc_host_api;

/* ------------------------------------------------------------------------ */
/* "pc.json/1": a JSON toolkit over opaque handles.                          */

#define PC_JSON_NULL 0
#define PC_JSON_BOOL 1
#define PC_JSON_INT 2
#define PC_JSON_DOUBLE 3
#define PC_JSON_STRING 4
#define PC_JSON_ARRAY 5
#define PC_JSON_OBJECT 6

/* parse flags */
#define PC_JSON_PARSE_STRICT 0u
#define PC_JSON_PARSE_REPAIR 1u  /* lenient: see docs/values.md "Repair" */

/* to_text flags (combine one layout with any modifiers) */
#define PC_JSON_TEXT_COMPACT 0u  /* {"a":1,"b":[1,2]} */
#define PC_JSON_TEXT_SPACED 1u   /* {"a": 1, "b": [1, 2]} (Python json.dumps) */
#define PC_JSON_TEXT_PRETTY 2u   /* 2-space indent, Python json.dumps(indent=2) */
#define PC_JSON_TEXT_ASCII 4u    /* escape non-ASCII as \uXXXX */
#define PC_JSON_TEXT_SORTED 8u   /* object keys in byte order */

typedef struct pc_json_api {
  pc_abi_header hdr;

  /* Parse `len` bytes of `text`. On success *out owns a new value (free it
   * with free()). On failure returns PC_E_PARSE with the offset in the
   * message and sets *out to NULL. */
  int (*parse)(void *ctx, const char *text, size_t len, uint32_t flags,
               pc_json **out, pc_error *err);
  /* Serialise `v`. *out is allocated with pc_host_api.alloc and owned by
   * the caller, who releases it with pc_host_api.free; *len excludes the
   * terminating NUL. Doubles print as Python's repr() does. */
  int (*to_text)(void *ctx, const pc_json *v, uint32_t flags, char **out,
                 size_t *len);
  void (*free)(void *ctx, pc_json *v);          /* NULL is a no-op */
  pc_json *(*copy)(void *ctx, const pc_json *v);  /* deep copy, owned */

  /* Inspection. Getters on the wrong type return 0 / 0.0 / NULL. */
  int32_t (*type)(const pc_json *v);
  int32_t (*get_bool)(const pc_json *v);
  int64_t (*get_int)(const pc_json *v);          /* doubles truncate */
  double (*get_double)(const pc_json *v);        /* ints convert */
  /* Borrowed from v, valid while v lives; *len may be NULL. */
  const char *(*get_string)(const pc_json *v, size_t *len);
  size_t (*array_len)(const pc_json *v);
  const pc_json *(*array_get)(const pc_json *v, size_t i);  /* borrowed */
  size_t (*object_len)(const pc_json *v);
  /* Borrowed value of `key`, NULL if absent or v is not an object. */
  const pc_json *(*object_get)(const pc_json *v, const char *key);
  /* The i-th member in insertion order: borrowed key and value. Returns 0,
   * or -1 when i is out of range. */
  int (*object_at)(const pc_json *v, size_t i, const char **key,
                   const pc_json **value);

  /* Construction: each returns a new owned value, NULL when out of memory. */
  pc_json *(*new_null)(void *ctx);
  pc_json *(*new_bool)(void *ctx, int32_t b);
  pc_json *(*new_int)(void *ctx, int64_t i);
  pc_json *(*new_double)(void *ctx, double d);
  pc_json *(*new_string)(void *ctx, const char *s, size_t len);
  pc_json *(*new_array)(void *ctx);
  pc_json *(*new_object)(void *ctx);
  /* Take over `value` (even on failure, when it is freed). Setting an
   * existing key replaces its value in place. */
  int (*object_set)(void *ctx, pc_json *obj, const char *key, pc_json *value);
  int (*array_append)(void *ctx, pc_json *arr, pc_json *value);
} pc_json_api;

/* ------------------------------------------------------------------------ */
/* "pc.values/1": DSPy's value semantics, shared by adapters and metrics.    */
/*
 * Types are the signature type strings of docs/signatures.md ("int",
 * "list[str]", "Literal['a', 'b']", "Optional[int]", ...), as they appear in
 * the "type" member of a signature field.
 */

/* render flags */
#define PC_VALUE_RENDER_FIELD 0u  /* DSPy format_field_value for a field */
#define PC_VALUE_RENDER_PYSTR 1u  /* Python str() of the value */

/* parse flags */
#define PC_VALUE_FROM_TEXT 0u  /* chat-style: raw completion text */
#define PC_VALUE_FROM_JSON 1u  /* JSON-adapter-style: an already typed value */

typedef struct pc_values_api {
  pc_abi_header hdr;
  /* Render `v` as text for a field of type `type` (NULL = unknown). *out
   * is host-allocated and released by the caller with pc_host_api.free. */
  int (*render)(void *ctx, const pc_json *v, const char *type, uint32_t flags,
                char **out, size_t *len, pc_error *err);
  /* Coerce LM output to `type`: text (PC_VALUE_FROM_TEXT) or the JSON value
   * whose text is given (PC_VALUE_FROM_JSON). *out owns the typed value.
   * A value that cannot be made to fit returns PC_E_PARSE and a message
   * naming the type and the offending text. */
  int (*parse)(void *ctx, const char *type, const char *text, size_t len,
               uint32_t flags, pc_json **out, pc_error *err);
} pc_values_api;

/* ------------------------------------------------------------------------ */
/* "pc.secrets/1": resolve a secret reference ("env:NAME").                   */

typedef struct pc_secrets_api {
  pc_abi_header hdr;
  /* Copy the secret named by `ref` into buf (cap bytes, NUL-terminated) and
   * its length into *len. PC_E_INVALID_ARG for an unknown scheme or unset
   * secret, PC_E_NOMEM when cap is too small. The message never contains
   * the secret. Wipe the buffer when done with it. */
  int (*lookup)(void *ctx, const char *ref, char *buf, size_t cap,
                size_t *len, pc_error *err);
} pc_secrets_api;

/* ------------------------------------------------------------------------ */
/* "pc.hash/1": SHA-256, so plugins never carry their own crypto.            */

#define PC_SHA256_HEX_SIZE 65  /* 64 lowercase hex digits and a NUL */

typedef struct pc_hash_api {
  pc_abi_header hdr;
  /* sha256 of `len` bytes as lowercase hex into hex[PC_SHA256_HEX_SIZE]. */
  void (*sha256_hex)(void *ctx, const void *data, size_t len, char *hex);
  /* sha256 of a file's bytes. PC_E_IO with the path and reason on
   * failure (hex is then the empty string). */
  int (*sha256_file)(void *ctx, const char *path, char *hex, pc_error *err);
} pc_hash_api;

/* ------------------------------------------------------------------------ */
/* "pc.http/1": the host HTTP client (transport policy is the host's).       */

typedef struct pc_http_header {
  pc_abi_header hdr;
  const char *name;   /* borrowed */
  const char *value;  /* borrowed */
} pc_http_header;

typedef struct pc_http_request {
  pc_abi_header hdr;
  const char *method;             /* "GET", "POST" */
  const char *url;
  const pc_http_header *headers;  /* n_headers elements of header_size bytes */
  uint64_t n_headers;
  uint32_t header_size;
  uint32_t flags;                 /* PC_HTTP_* */
  const char *body;               /* may be NULL */
  uint64_t body_len;
  int64_t connect_timeout_ms;     /* <= 0: host default */
  int64_t total_timeout_ms;       /* <= 0: host default */
  /* The name of one header in `headers` whose value is "[PREFIX ]REF":
   * the host resolves the secret reference REF (the part after the last
   * space, e.g. "Bearer env:OPENAI_API_KEY") and sends the secret in its
   * place, so the plugin never holds it. NULL when none. */
  const char *secret_header;
} pc_http_request;

#define PC_HTTP_STREAM 1u  /* deliver the body as it arrives */

typedef struct pc_http_sink {
  pc_abi_header hdr;
  void *ctx;
  int (*on_status)(void *ctx, int32_t status);
  int (*on_header)(void *ctx, const char *name, size_t name_len,
                   const char *value, size_t value_len);
  int (*on_data)(void *ctx, const char *data, size_t len);
} pc_http_sink;

typedef struct pc_http_api {
  pc_abi_header hdr;
  /* Perform one exchange (the host's timeouts, TLS checks, proxies and
   * connection reuse), delivering the response through `sink` on the
   * calling thread: on_status, on_header for each header, on_data for the
   * body (as it arrives with PC_HTTP_STREAM). PC_OK when a whole response
   * arrived, whatever its status; PC_E_TIMEOUT, PC_E_IO, PC_E_CANCELLED
   * otherwise. The transport never retries: the host retries the whole
   * provider call (section 4), so a bad body is retried like a 503. A sink
   * callback returning non-zero aborts the transfer with that code. */
  int (*request)(void *ctx, const pc_http_request *req,
                 const pc_http_sink *sink, pc_call *call, pc_error *err);
} pc_http_api;

/* ------------------------------------------------------------------------ */
/* Text and JSON sinks, used wherever a plugin hands a result back.          */

typedef struct pc_text_sink {
  pc_abi_header hdr;
  void *ctx;
  /* Append `len` bytes. The host copies them. Non-zero return: stop. */
  int (*write)(void *ctx, const char *text, size_t len);
} pc_text_sink;

/* ------------------------------------------------------------------------ */
/* Plugin descriptor.                                                       */

#define PC_KIND_LM_PROVIDER (1u << 0)
#define PC_KIND_ADAPTER (1u << 1)
#define PC_KIND_METRIC (1u << 2)
#define PC_KIND_OPTIMIZER (1u << 3)

#define PC_PLUGIN_THREADSAFE_INSTANCES (1u << 0)  /* see "Threads" above */

typedef struct pc_plugin_info {
  pc_abi_header hdr;
  const char *id;       /* reverse-DNS, e.g. "org.promptc.adapter.chat" */
  const char *name;     /* short name users type, e.g. "chat" */
  const char *version;  /* semver of the plugin */
  const char *license;  /* SPDX identifier */
  const char *summary;  /* one line for `promptc plugins list` */
  uint64_t kinds;       /* PC_KIND_* bits */
  uint64_t flags;       /* PC_PLUGIN_* bits */
  /* Called once after loading. `host` is valid until fini returns. Store
   * per-plugin state in *state. Return PC_OK or a code with a message. */
  int (*init)(const pc_host_api *host, void **state, pc_error *err);
  void (*fini)(void *state);  /* may be NULL */
  /* Return the interface table for `iface_id` and its size, or NULL. The
   * table is static (valid until fini). */
  const void *(*get_interface)(void *state, const char *iface_id,
                               uint32_t *iface_size);
  /* Optional (may be NULL): the index-th table of `iface_id`, for plugins
   * that offer several of one interface (a metric plugin with exact_match
   * and f1). Index 0 is what get_interface returns; NULL past the end. */
  const void *(*get_interface_at)(void *state, const char *iface_id,
                                  uint32_t index, uint32_t *iface_size);
} pc_plugin_info;

/*
 * The one exported symbol. Return the descriptor, or NULL when `host` is
 * NULL or host->abi_major differs from PC_ABI_MAJOR. Discovery class: do
 * nothing else here.
 */
typedef const pc_plugin_info *(*pc_plugin_entry_fn)(const pc_abi_header *host);
#define PC_PLUGIN_ENTRY_SYMBOL "pc_plugin_entry_v1"

/* ------------------------------------------------------------------------ */
/* Interface ids.                                                           */

#define PC_IFACE_ADAPTER "pc.adapter/1"
#define PC_IFACE_LM_PROVIDER "pc.lm_provider/1"
#define PC_IFACE_METRIC "pc.metric/1"
#define PC_IFACE_OPTIMIZER "pc.optimizer/1"

/* ------------------------------------------------------------------------ */
/* Chat messages: the hot struct, passed as a typed array.                  */

typedef struct pc_message {
  pc_abi_header hdr;
  const char *role;     /* "system", "user", "assistant" */
  const char *content;  /* UTF-8 */
  uint64_t content_len;
} pc_message;

/* ------------------------------------------------------------------------ */
/* "pc.adapter/1"                                                           */
/*
 * The signature crosses as JSON text (docs/signatures.md, "The plugin
 * form"):
 *   {"instructions": "...",
 *    "inputs":  [{"name", "type", "type_name", "kind", "desc", ...}, ...],
 *    "outputs": [ ... same ... ]}
 * where `type` is the canonical type string, `type_name` the name DSPy
 * shows for it, `kind` one of "str" "int" "float" "bool" "list" "dict"
 * "literal" "optional" "any", `desc` the description ("" when none), and
 * for outputs `schema` (the JSON schema text DSPy shows, for list, dict,
 * optional and any) and `values` (the array of allowed values, for
 * literal).
 *
 * Demos cross as a JSON array of objects (field name -> value; absent or
 * null fields make a demo incomplete). Inputs cross as one JSON object.
 */

typedef struct pc_adapter_format_request {
  pc_abi_header hdr;
  const char *signature_json;
  uint64_t signature_len;
  const char *demos_json;  /* "[]" when none */
  uint64_t demos_len;
  const char *inputs_json;
  uint64_t inputs_len;
} pc_adapter_format_request;

typedef struct pc_message_sink {
  pc_abi_header hdr;
  void *ctx;
  /* One message, in order. The host copies both strings. */
  int (*message)(void *ctx, const char *role, const char *content,
                 size_t len);
  /* Extra LM request parameters the adapter wants (a JSON object text,
   * e.g. {"response_format": {...}}). May be NULL in the sink: then the
   * adapter skips it. */
  int (*params)(void *ctx, const char *json, size_t len);
} pc_message_sink;

typedef struct pc_adapter_parse_request {
  pc_abi_header hdr;
  const char *signature_json;
  uint64_t signature_len;
  const char *completion;  /* the LM's text */
  uint64_t completion_len;
} pc_adapter_parse_request;

typedef struct pc_adapter_iface {
  pc_abi_header hdr;
  const char *name;      /* "chat", "json": what users select */
  const char *fallback;  /* adapter name to retry with on a parse
                            failure, or NULL (DSPy: chat -> json) */
  int (*create)(void *plugin_state, const char *config_json, size_t len,
                void **inst, pc_error *err);
  void (*destroy)(void *inst);
  /* Emit the chat messages for one call through `out`. */
  int (*format)(void *inst, const pc_adapter_format_request *req,
                const pc_message_sink *out, pc_error *err);
  /* Parse a completion into a JSON object of typed output fields, written
   * to `out` as JSON text. PC_E_PARSE with a message on failure. */
  int (*parse)(void *inst, const pc_adapter_parse_request *req,
               const pc_text_sink *out, pc_error *err);
} pc_adapter_iface;

/* ------------------------------------------------------------------------ */
/* "pc.lm_provider/1"                                                       */

typedef struct pc_lm_request {
  pc_abi_header hdr;
  const char *model;              /* the role's "model" member as
                                     configured, or NULL when it has none */
  const pc_message *messages;     /* n_messages elements of message_size */
  uint64_t n_messages;
  uint32_t message_size;
  uint32_t flags;                 /* PC_LM_STREAM */
  const char *params_json;        /* {"temperature", "max_tokens", "n", ...} */
  uint64_t params_len;
  const char *rollout_id;         /* distinct samples of one prompt, or NULL */
} pc_lm_request;

#define PC_LM_STREAM 1u

typedef struct pc_lm_sink {
  pc_abi_header hdr;
  void *ctx;
  /* The completion text of choice `index` (0 unless n > 1), whole. */
  int (*text)(void *ctx, uint32_t index, const char *text, size_t len);
  /* A streamed piece of choice `index`; the whole still follows via text. */
  int (*delta)(void *ctx, uint32_t index, const char *text, size_t len);
  int (*usage)(void *ctx, int64_t prompt_tokens, int64_t completion_tokens);
  /* Metadata for the record: "model" (as served), "system_fingerprint",
   * "digest", "request_id", "finish_reason". */
  int (*meta)(void *ctx, const char *key, const char *value, size_t len);
} pc_lm_sink;

typedef struct pc_lm_provider_iface {
  pc_abi_header hdr;
  const char *name;  /* "sim", "openai", ... */
  /* config_json is the role's object from the run config (docs/config.md)
   * without the members the host keeps for itself ("provider", "params",
   * "cache"), plus "base_dir": the directory of the config file, against
   * which the provider resolves relative paths. Unknown members are
   * PC_E_INVALID_ARG with a message naming them. */
  int (*create)(void *plugin_state, const char *config_json, size_t len,
                void **inst, pc_error *err);
  void (*destroy)(void *inst);
  /* The exact model identity as configured and as known before any call
   * (e.g. "sim-1@3f2a..."), written to `out`. */
  int (*identity)(void *inst, const pc_text_sink *out, pc_error *err);
  int (*complete)(void *inst, const pc_lm_request *req,
                  const pc_lm_sink *out, pc_call *call, pc_error *err);
} pc_lm_provider_iface;

/* ------------------------------------------------------------------------ */
/* "pc.metric/1"                                                            */

typedef struct pc_metric_sink {
  pc_abi_header hdr;
  void *ctx;
  int (*score)(void *ctx, double score);  /* exactly once, in [0, 1] */
  int (*feedback)(void *ctx, const char *text, size_t len);  /* optional */
  int (*subscore)(void *ctx, const char *name, double score);  /* optional */
} pc_metric_sink;

typedef struct pc_metric_iface {
  pc_abi_header hdr;
  const char *name;  /* "exact_match", ... (one plugin may hold several) */
  int (*create)(void *plugin_state, const char *config_json, size_t len,
                void **inst, pc_error *err);
  void (*destroy)(void *inst);
  /* Score one prediction. example_json: the example's fields;
   * prediction_json: the program's outputs; trace_json: array of
   * {"predictor", "inputs", "outputs"} or NULL. */
  int (*score)(void *inst, const char *example_json, size_t example_len,
               const char *prediction_json, size_t prediction_len,
               const char *trace_json, size_t trace_len,
               const pc_metric_sink *out, pc_error *err);
} pc_metric_iface;

/* ------------------------------------------------------------------------ */
/* "pc.optimizer/1" and the compile API the host offers an optimizer.       */
/*
 * An optimizer drives its algorithm sequentially and readably; it never
 * calls an LM or a metric itself. Everything that costs is asked of the
 * host through pc_compile_api, which runs batches in parallel on its
 * scheduler, through the cache, counted against the budget, cancellable.
 *
 * Program state crosses as JSON: {"<predictor path>": {"instructions":
 * "...", "demos": [ {...}, ... ]}, ...}. The program itself (modules,
 * predictors with their signatures) is read with program().
 */

#define PC_SPLIT_TRAIN "train"
#define PC_SPLIT_VAL "val"

/* evaluate() request flags */
#define PC_EVAL_TRACES 1u       /* return each example's trace */
#define PC_EVAL_FEEDBACK 2u     /* ask the metric for feedback text */
#define PC_EVAL_NO_METRIC 4u    /* run only; do not score */
#define PC_EVAL_TEACHER 8u      /* run with the teacher_lm role */
#define PC_EVAL_EXCLUDE_SELF 16u /* hide from every predictor the demos
                                   equal to the example being run */

typedef struct pc_eval_request {
  pc_abi_header hdr;
  const char *state_json;  /* candidate state; NULL = the current program */
  uint64_t state_len;
  const char *split;       /* PC_SPLIT_TRAIN / PC_SPLIT_VAL */
  const int64_t *indices;  /* n_indices example indices; NULL = whole split */
  uint64_t n_indices;
  uint32_t flags;          /* PC_EVAL_* */
  uint32_t reserved;
  /* Stop early, in example order, once this many examples score at least
   * success_threshold (0 = run all). The host may run at most one extra
   * wave of examples beyond the stop point; their results are dropped. */
  int64_t stop_after_successes;
  double success_threshold;
  const char *config_json;  /* per-run LM overrides, e.g. {"temperature":
                               1.0, "rollout_id": "r3"}; NULL = none */
  uint64_t config_len;
} pc_eval_request;

typedef struct pc_propose_request {
  pc_abi_header hdr;
  const char *role;            /* "prompt_lm", "reflection_lm", "teacher_lm" */
  const char *signature;       /* string or JSON signature */
  const char *inputs_json;     /* object of input fields */
  uint64_t inputs_len;
  const char *demos_json;      /* array, or NULL */
  uint64_t demos_len;
  const char *config_json;     /* {"temperature", "n", "rollout_id"}, or NULL */
  uint64_t config_len;
} pc_propose_request;

typedef struct pc_compile_api {
  pc_abi_header hdr;
  void *ctx;  /* pass back as the first argument */

  /* The program: {"modules": ..., "predictors": [{"path", "signature":
   * <signature JSON>, "instructions", "demos"}], ...}. Owned by caller. */
  int (*program)(void *ctx, pc_json **out, pc_error *err);
  /* A split: {"name", "input_keys": [...], "examples": [{"id", "slice",
   * "fields": {...}}]}. Owned by caller. */
  int (*dataset)(void *ctx, const char *split, pc_json **out, pc_error *err);
  /* Run (and score) a candidate on examples. *out, owned by caller:
   * {"results": [{"index", "id", "outputs", "score", "feedback",
   * "subscores", "error", "trace"}], "mean", "n_scored", "n_errors"}, in
   * the order of the request's indices. */
  int (*evaluate)(void *ctx, const pc_eval_request *req, pc_json **out,
                  pc_error *err);
  /* One proposal call to an LM role through a signature; *out is an array
   * of parsed output objects (one per completion). */
  int (*propose)(void *ctx, const pc_propose_request *req, pc_json **out,
                 pc_error *err);
  /* The compile's seed (from --seed or the optimizer's default). */
  uint64_t (*seed)(void *ctx);
  /* Budget state: {"calls", "tokens", "cost", "elapsed_ms", "max_*",
   * "exhausted": bool, "reason"}. Owned by caller. */
  int (*budget)(void *ctx, pc_json **out, pc_error *err);
  /* Record a trial (a JSON object: "candidate", "split", "scores", ...). */
  int (*record_trial)(void *ctx, const char *trial_json, size_t len,
                      pc_error *err);
  /* Save / load the optimizer's own resumable state. load sets *out to
   * NULL when there is no checkpoint. */
  int (*checkpoint_save)(void *ctx, const char *json, size_t len,
                         pc_error *err);
  int (*checkpoint_load)(void *ctx, pc_json **out, pc_error *err);
  /* Report progress for the live line: {"trial", "of", "best"}. */
  void (*progress)(void *ctx, const char *json, size_t len);
  /* Set the result: the best state found and an optional report object. */
  int (*set_result)(void *ctx, const char *state_json, size_t state_len,
                    const char *report_json, size_t report_len,
                    pc_error *err);
} pc_compile_api;

typedef struct pc_optimizer_iface {
  pc_abi_header hdr;
  const char *name;  /* "bootstrap", "miprov2", ... */
  /* Validate settings (unknown or conflicting keys are errors). */
  int (*create)(void *plugin_state, const char *settings_json, size_t len,
                void **inst, pc_error *err);
  void (*destroy)(void *inst);
  /* Estimate the cost before spending: `info_json` holds {"train", "val",
   * "predictors"} sizes; write {"lm_calls", "metric_calls"} to out. */
  int (*estimate)(void *inst, const char *info_json, size_t len,
                  const pc_text_sink *out, pc_error *err);
  /* Run the algorithm. Returns PC_OK after set_result, PC_E_BUDGET when a
   * cap stopped it (after setting the best result so far), or an error. */
  int (*compile)(void *inst, const pc_compile_api *api, pc_error *err);
  /* The settings actually used, defaults filled in, as a JSON object. */
  int (*settings)(void *inst, const pc_text_sink *out, pc_error *err);
} pc_optimizer_iface;

#ifdef __cplusplus
}
#endif

#endif /* PROMPTC_PLUGIN_H */
