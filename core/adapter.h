/*
 * adapter.h - the host side of adapters: turning a signature, demos and
 * inputs into chat messages through an adapter plugin, and LM text back
 * into typed fields.
 */
#ifndef PC_ADAPTER_H
#define PC_ADAPTER_H

#include <stddef.h>
#include <json-c/json.h>

#include "errors.h"
#include "loader.h"
#include "signature.h"

typedef struct pc_chat_message {
  char *role;     /* owned */
  char *content;  /* owned */
  size_t len;     /* of content */
} pc_chat_message;

typedef struct pc_messages {
  pc_chat_message *items;  /* owned */
  size_t n;
  char *params_json;       /* owned: extra LM parameters, or NULL */
} pc_messages;

typedef struct pc_adapter {
  pc_plugin *plugin;                    /* borrowed from the registry */
  const struct pc_adapter_iface *iface; /* plugin-owned, static */
  void *inst;                           /* plugin instance */
} pc_adapter;

/*
 * pc_adapter_open - create an instance of the adapter named `name` ("chat",
 * "json") found in `reg`. `config_json` may be NULL. The registry must
 * outlive the adapter. Free with pc_adapter_close.
 */
int pc_adapter_open(const pc_registry *reg, const char *name,
                    const char *config_json, pc_adapter **out, pc_error *err);
void pc_adapter_close(pc_adapter *a);

/* Format one call. `demos` is an array (NULL = none), `inputs` an object.
 * On success `out` holds the messages (pc_messages_clear). */
int pc_adapter_format(pc_adapter *a, const pc_signature *sig,
                      const struct json_object *demos,
                      const struct json_object *inputs, pc_messages *out,
                      pc_error *err);

/* Parse a completion. On success *out owns an object of typed outputs. */
int pc_adapter_parse(pc_adapter *a, const pc_signature *sig,
                     const char *text, size_t len, struct json_object **out,
                     pc_error *err);

/* The same two calls with the signature already in its plugin JSON form
 * (pc_predictor.signature_plugin_json), which the LM call path keeps per
 * predictor instead of re-serialising it on every call. */
int pc_adapter_format_json(pc_adapter *a, const char *sig_json,
                           size_t sig_len, const struct json_object *demos,
                           const struct json_object *inputs,
                           pc_messages *out, pc_error *err);
int pc_adapter_parse_json(pc_adapter *a, const char *sig_json,
                          size_t sig_len, const char *text, size_t len,
                          struct json_object **out, pc_error *err);

/* The fallback adapter's name (DSPy: chat -> json), or NULL. Borrowed. */
const char *pc_adapter_fallback(const pc_adapter *a);
const char *pc_adapter_name(const pc_adapter *a);

void pc_messages_clear(pc_messages *m);

/* [{"role": ..., "content": ...}, ...] as a new JSON array. */
struct json_object *pc_messages_to_json(const pc_messages *m);

#endif
