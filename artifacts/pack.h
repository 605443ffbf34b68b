/*
 * pack.h - building a release artifact from what a compile produced: the
 * members (program.json, prompts/, eval/report.json, provenance.json),
 * MANIFEST.json describing them, the reproducible tar and its minisign
 * signature.
 *
 * Everything here is a function of its inputs: no clock (times come from
 * `epoch`, SOURCE_DATE_EPOCH or 0), no host name, no user, no path of the
 * packing machine. Packing the same inputs twice gives the same bytes,
 * signature included (Ed25519 is deterministic). The caller gathers the
 * inputs (the CLI's cmd_pack.c: run record, plugins, model identities,
 * evaluation) and must leave secrets out of them; pc_pack also refuses
 * to produce an artifact in which any of `secrets` appears.
 */
#ifndef PC_PACK_H
#define PC_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "buf.h"
#include "errors.h"
#include "minisign.h"

/* What goes into an artifact. All borrowed. */
typedef struct pc_pack_inputs {
  const char *name;                    /* pc_artifact_name_valid */
  const char *version;                 /* pc_artifact_version_valid */
  int64_t epoch;                       /* every time in the artifact */
  const struct json_object *program;   /* the compiled program */
  const struct json_object *prompts;   /* {"<predictor path>": text} */
  const struct json_object *report;    /* eval/report.json */
  /* Manifest parts (see docs/artifacts.md, "MANIFEST.json"): */
  const struct json_object *plugins;   /* [{"role","name","id","version",
                                           "sha256"}] */
  const struct json_object *models;    /* role -> identity record */
  const struct json_object *adapter;   /* {"name","id","version"} */
  const struct json_object *metric;    /* {"name","id","version"} */
  const struct json_object *optimizer; /* {"name","id","version",
                                           "settings","seed"} */
  const struct json_object *splits;    /* train/val/test: {"sha256","n",
                                           "examples": [content hashes]} */
  const struct json_object *evaluation;/* the summary kept in the manifest */
  const struct json_object *run;       /* {"id","status","stopped_by",
                                           "budget", "usage"} */
  const pc_ms_seckey *key;             /* signs; NULL: no signature */
  const char *const *secrets;          /* values that must not appear in
                                          the artifact (the config's
                                          resolved env: references) */
  size_t n_secrets;
} pc_pack_inputs;

/*
 * pc_pack - build the artifact. Appends the .ppa bytes to `ppa`; when
 * `in->key` is set, *sig gets the .minisig text (pc_free) and *sig_len its
 * length (else *sig is NULL). *manifest (may be NULL) gets a new reference
 * to the manifest. PC_E_INVALID_ARG for a bad name or version, a prompt
 * path that is not a valid member name, or a secret found in the inputs;
 * PC_E_NOMEM.
 */
int pc_pack(const pc_pack_inputs *in, pc_buf *ppa, char **sig,
            size_t *sig_len, struct json_object **manifest, pc_error *err);

/* The trusted comment that binds a signature to an artifact:
 * "promptc-artifact:1 name=N version=V sha256=H manifest_sha256=M".
 * A new string (pc_free), NULL when out of memory. */
char *pc_pack_trusted_comment(const char *name, const char *version,
                              const char *sha256, const char *manifest_sha256);

#endif
