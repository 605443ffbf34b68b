/*
 * lm_settings.c - checking and merging LM call settings.
 */
#include <string.h>

#include "lm_settings.h"

#define SET_NUMBER 1  /* a number >= 0 */
#define SET_UNIT 2    /* a number in [0, 1] */
#define SET_COUNT 3   /* an integer >= 1 */
#define SET_INT 4     /* any integer */
#define SET_STRING 5  /* a string */
#define SET_STOP 6    /* a string or an array of strings */

static const struct {
  const char *key;
  int kind;
} keys[] = {
  {"temperature", SET_NUMBER},
  {"max_tokens", SET_COUNT},
  {"n", SET_COUNT},
  {"top_p", SET_UNIT},
  {"stop", SET_STOP},
  {"seed", SET_INT},
  {"adapter", SET_STRING},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static int is_type(const struct json_object *v, json_type t)
{
  return json_object_is_type(v, t);
}

/* What `v` should have been, or NULL when it fits `kind`. */
static const char *want_for(int kind, const struct json_object *v)
{
  int is_int = is_type(v, json_type_int);
  int is_num = is_int || is_type(v, json_type_double);
  double d = is_num ? json_object_get_double(v) : 0;

  switch (kind) {
  case SET_NUMBER:
    return is_num && d >= 0 ? NULL : "a number >= 0";
  case SET_UNIT:
    return is_num && d >= 0 && d <= 1 ? NULL : "a number from 0 to 1";
  case SET_COUNT:
    return is_int && json_object_get_int64(v) >= 1 ? NULL
                                                   : "an integer >= 1";
  case SET_INT:
    return is_int ? NULL : "an integer";
  case SET_STRING:
    return is_type(v, json_type_string) ? NULL : "a string";
  default: /* SET_STOP */
    if (is_type(v, json_type_string))
      return NULL;
    if (is_type(v, json_type_array)) {
      size_t n = json_object_array_length(v);

      for (size_t k = 0; k < n; k++)
        if (!is_type(json_object_array_get_idx(v, k), json_type_string))
          return "a string or an array of strings";
      return NULL;
    }
    return "a string or an array of strings";
  }
}

int pc_lm_settings_check(const struct json_object *settings, unsigned flags,
                         const char *where, pc_error *err)
{
  int allow_adapter = (flags & PC_LM_SETTINGS_ADAPTER) != 0;

  if (!is_type(settings, json_type_object))
    return pc_error_set(err, PC_E_INVALID_ARG, "%s: expected an object",
                        where);
  json_object_object_foreach((struct json_object *)settings, key, v) {
    const char *want;
    size_t i;

    for (i = 0; i < N_KEYS; i++)
      if (!strcmp(key, keys[i].key))
        break;
    if (i == N_KEYS || (!allow_adapter && !strcmp(key, "adapter")))
      return pc_error_set(err, PC_E_INVALID_ARG,
                          "%s.%s: unknown setting (expected temperature, "
                          "max_tokens, n, top_p, stop, seed%s)", where, key,
                          allow_adapter ? " or adapter" : "");
    want = want_for(keys[i].kind, v);
    if (want)
      return pc_error_set(err, PC_E_INVALID_ARG, "%s.%s: expected %s", where,
                          key, want);
  }
  return PC_OK;
}

int pc_lm_settings_merge(struct json_object *base,
                         const struct json_object *over)
{
  if (!over)
    return PC_OK;
  json_object_object_foreach((struct json_object *)over, key, v) {
    struct json_object *copy = NULL;

    if (!strcmp(key, "adapter"))
      continue;
    if (json_object_deep_copy(v, &copy, NULL) != 0)
      return PC_E_NOMEM;
    if (json_object_object_add(base, key, copy) != 0) {
      json_object_put(copy);
      return PC_E_NOMEM;
    }
  }
  return PC_OK;
}
