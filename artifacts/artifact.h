/*
 * artifact.h - opening a release artifact (NAME-VERSION.ppa): verify its
 * minisign signature over the whole file before anything reads the tar,
 * then its trusted comment, then the tar under limits, then every member
 * against MANIFEST.json, then the schema and the ABI. What passes is held
 * in memory; nothing is extracted to disk and nothing in it is executed.
 *
 * docs/artifacts.md describes the format; each way verification can fail
 * has its own code below, which is also the exit status of
 * `promptc verify` (docs/cli.md).
 */
#ifndef PC_ARTIFACT_H
#define PC_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "errors.h"
#include "hash.h"
#include "keyring.h"
#include "tar.h"

#define PC_ARTIFACT_SCHEMA "promptc.artifact/1"
#define PC_ARTIFACT_COMMENT_TAG "promptc-artifact:1"
#define PC_ARTIFACT_MAX ((size_t)64 << 20)  /* largest .ppa we read */
/* Longest NAME-VERSION: member paths, 100 bytes at most, hold it and
 * "/prompts/" and a predictor path. */
#define PC_ARTIFACT_STEM_MAX 48

/* How verification failed; the values are `promptc verify` exit codes. */
enum pc_artifact_failure {
  PC_AF_OK = 0,
  PC_AF_READ = 3,               /* the .ppa cannot be read */
  PC_AF_NO_SIGNATURE = 10,      /* no .minisig, or it does not parse */
  PC_AF_KEY_UNKNOWN = 11,       /* signed by a key not in the keyring */
  PC_AF_KEY_REVOKED = 12,
  PC_AF_KEY_EXPIRED = 13,
  PC_AF_BAD_SIGNATURE = 14,     /* the file is not what was signed */
  PC_AF_BAD_COMMENT = 15,       /* the trusted comment was changed */
  PC_AF_COMMENT_MISMATCH = 16,  /* the comment names another artifact */
  PC_AF_UNSAFE_TAR = 17,        /* refused by the tar reader */
  PC_AF_MEMBERS = 18,           /* members differ from the manifest */
  PC_AF_SCHEMA = 19,            /* manifest schema or ABI unsupported */
  PC_AF_PLUGINS = 20,           /* a required plugin missing or too old */
  PC_AF_MODEL_DRIFT = 21        /* the configured LM is another model */
};

/* Static one-word name of a failure ("revoked-key"). */
const char *pc_artifact_failure_name(int failure);

typedef struct pc_artifact {
  char *path;                        /* owned: as given */
  unsigned char *bytes;              /* owned: the whole .ppa */
  size_t len;
  char sha256[PC_SHA256_HEX_LEN + 1];
  pc_tar tar;                        /* the members, archive order */
  struct json_object *manifest;      /* owned */
  const char *name, *version;        /* borrowed from the manifest */
  /* Signature: signed is 1 when a trusted key's signature verified. */
  int is_signed;
  char key_id[PC_MS_KEYID_HEX_LEN + 1];  /* "" when unsigned */
  char *key_name;                    /* owned, may be NULL */
  char *trusted_comment;             /* owned, may be NULL */
  char *sig_text;                    /* owned: the .minisig that verified,
                                        or NULL */
  size_t sig_len;
  char *warning;                     /* owned: why an allowed artifact is
                                        not trusted (--allow-unsigned), or
                                        NULL */
} pc_artifact;

typedef struct pc_artifact_opts {
  const pc_keyring *keyring;   /* trusted keys; NULL: none */
  const char *sig_path;        /* NULL: PATH.minisig */
  int allow_unsigned;          /* let a missing signature, an unknown key
                                  or an expired key pass with a warning;
                                  a revoked key or a signature that does
                                  not verify never passes */
  int any_file_name;           /* skip the check that the file is named
                                  NAME-VERSION.ppa as signed (the
                                  registry stores artifacts by digest) */
  int64_t now;                 /* Unix seconds, for key expiry */
  pc_tar_limits limits;        /* zero: PC_TAR_LIMITS_DEFAULT */
} pc_artifact_opts;

/*
 * pc_artifact_open - read and verify the artifact at `path`. On PC_OK
 * *out owns it (pc_artifact_free) and *failure is PC_AF_OK. Otherwise
 * *out is NULL, *failure says which check failed and `err` says why,
 * naming the file. Codes: PC_E_IO (unreadable), PC_E_NOMEM,
 * PC_E_INVALID_ARG (every verification failure).
 */
int pc_artifact_open(const char *path, const pc_artifact_opts *o,
                     pc_artifact **out, int *failure, pc_error *err);

void pc_artifact_free(pc_artifact *a);  /* NULL is a no-op */

/* The data of member `rel` (relative to the artifact's top directory),
 * or NULL. Borrowed. */
const pc_tar_member *pc_artifact_member(const pc_artifact *a,
                                        const char *rel);

/* program.json parsed: a new reference (json_object_put). PC_E_PARSE. */
int pc_artifact_program_json(const pc_artifact *a, struct json_object **out,
                             pc_error *err);

/*
 * pc_artifact_check_plugins - every plugin the manifest requires for
 * running (roles "lm", "adapter", "metric"; not "optimizer" nor
 * "compile_lm", the providers of the roles only the compile used) must be
 * loaded in `reg` with the same id and a compatible version: the same
 * major and at least the recorded minor.patch. A different .so digest is
 * not an error. PC_E_UNSUPPORTED with the plugin and versions named.
 */
struct pc_registry;
int pc_artifact_check_plugins(const pc_artifact *a,
                              const struct pc_registry *reg,
                              int need_metric, pc_error *err);

/*
 * pc_artifact_check_models - compare the identity the manifest records
 * for the task LM (role "lm", the one that runs the program; the other
 * roles only served the compile) with `current` (role -> {"identity",
 * ...}, as pc_runtime_models gives). PC_OK when they match; otherwise
 * PC_E_INVALID_ARG with "lm: compiled for sim-1@ab12..., configured
 * sim-1@cd34..." and *diffs (may be NULL) gets an array of the
 * difference as {"role", "recorded", "configured"}.
 */
int pc_artifact_check_models(const pc_artifact *a,
                             const struct json_object *current,
                             struct json_object **diffs, pc_error *err);

/* "NAME-VERSION": the artifact's file stem and top directory. Writes at
 * most `cap` bytes; PC_E_INVALID_ARG when the name or version is invalid
 * (see pc_artifact_name_valid), the two are longer than
 * PC_ARTIFACT_STEM_MAX together, or it does not fit. */
int pc_artifact_stem(const char *name, const char *version, char *out,
                     size_t cap, pc_error *err);

/* 1 when `name` is [a-z0-9][a-z0-9._-]* of at most 64 bytes without
 * "..", and `version` is MAJOR.MINOR.PATCH (digits, no leading zeros)
 * with an optional -prerelease of [0-9A-Za-z.-]; else 0. */
int pc_artifact_name_valid(const char *name);
int pc_artifact_version_valid(const char *version);

#endif
