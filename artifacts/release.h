/*
 * release.h - the release registry: a directory holding signed artifacts
 * by digest and an SQLite index of channels and of every promotion,
 * refusal and rollback.
 *
 * Layout (docs/releases.md):
 *   DIR/index.sqlite               the index (WAL; application id "PCRL")
 *   DIR/objects/<sha256>.ppa       each artifact, named by its sha256
 *   DIR/objects/<sha256>.ppa.minisig
 *
 * Channels "staging" and "production" exist from init; other names
 * ([a-z0-9][a-z0-9._-]{0,31}) are made by their first promotion. A
 * channel points at one artifact or at none. Every decision is an event
 * with its time, actor, reason, action ("promote", "refuse", "rollback"),
 * the artifact it concerns, what the channel held before and after, and
 * the gate table; events are never changed or deleted.
 *
 * Nothing here verifies signatures or evaluates: the caller (promote)
 * does, then records what it decided.
 *
 * Threads and processes: a handle is used by one thread at a time; any
 * number of handles, in this process or others, may use one registry at
 * once (SQLite WAL; a writer waits up to 10 s for another).
 */
#ifndef PC_RELEASE_H
#define PC_RELEASE_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "errors.h"
#include "hash.h"

typedef struct pc_release pc_release;

/* What an artifact is, as the index keeps it. */
typedef struct pc_release_artifact {
  const char *name;
  const char *version;
  const char *sha256;         /* of the .ppa bytes, lower-case hex */
  const char *key_id;         /* 16 hex digits (stored upper-case), or
                                 NULL: unsigned */
  const struct json_object *manifest;  /* stored as canonical JSON */
} pc_release_artifact;

/* One decision to record. All borrowed. */
typedef struct pc_release_event {
  const char *action;         /* "promote", "refuse" or "rollback" */
  const char *channel;
  const char *sha256;         /* the artifact concerned */
  const char *actor;          /* who: --actor, else $USER, else uid */
  const char *reason;         /* may be NULL */
  const struct json_object *gates;  /* the gate table, or NULL */
  const struct json_object *detail; /* anything else (scores), or NULL */
  int check_before;           /* 1: refuse unless the channel still holds */
  const char *before;         /* this artifact (NULL: still empty) */
} pc_release_event;

/*
 * pc_release_init - make a new registry in `dir` (created, mode 0755, if
 * missing; an existing registry or a non-empty directory that is not one
 * is refused). PC_E_INVALID_ARG, PC_E_IO naming the path.
 */
int pc_release_init(const char *dir, pc_error *err);

/* pc_release_open - open the registry in `dir`; a directory without an
 * index, or a file that is not one, is refused with the path and reason.
 * *out owned by the caller (pc_release_close). */
int pc_release_open(const char *dir, pc_release **out, pc_error *err);
void pc_release_close(pc_release *r);  /* NULL is a no-op */

/* 1 when `name` is a valid channel name, else 0. */
int pc_release_channel_valid(const char *name);

/*
 * pc_release_store - copy the artifact bytes and its signature into
 * objects/ (written atomically; already present: checked to be the same
 * bytes) and index it. Storing the same artifact again changes nothing.
 * `ppa`/`sig` borrowed; `sig` may be NULL (no .minisig is written);
 * `a->sha256` must be the sha256 of `ppa`; a signature that differs from
 * the one already stored replaces it (the artifact was re-signed, say for
 * a key rotation; the caller verified it). PC_E_IO, PC_E_NOMEM.
 */
int pc_release_store(pc_release *r, const pc_release_artifact *a,
                     const void *ppa, size_t ppa_len, const void *sig,
                     size_t sig_len, pc_error *err);

/* Paths of a stored artifact and its signature: new strings (pc_free);
 * NULL when out of memory or when `sha256` is not 64 lower-case hex
 * digits. */
char *pc_release_object_path(const pc_release *r, const char *sha256);
char *pc_release_sig_path(const pc_release *r, const char *sha256);

/*
 * pc_release_current - the artifact `channel` points at: *sha256 gets a
 * new string (pc_free), or NULL when the channel is empty or does not
 * exist yet. PC_E_IO, PC_E_NOMEM.
 */
int pc_release_current(pc_release *r, const char *channel, char **sha256,
                       pc_error *err);

/*
 * pc_release_record - record `ev` and, for "promote" and "rollback",
 * point the channel at ev->sha256, in one transaction (a "refuse" leaves
 * the channel as it is). The artifact must have been stored. *event_id
 * (may be NULL) gets the new event's number. PC_E_INVALID_ARG for an
 * unknown action, a bad channel name, an unknown artifact, no actor, a
 * rollback of a channel that does not exist, or, with ev->check_before, a
 * channel that no longer holds ev->before (another decision moved it
 * meanwhile: nothing is recorded); PC_E_IO.
 */
int pc_release_record(pc_release *r, const pc_release_event *ev,
                      int64_t *event_id, pc_error *err);

/*
 * pc_release_rollback_target - what a rollback of `channel` restores: the
 * artifact the channel held before its current artifact was last put
 * there by a promotion. *sha256 gets a new string, or NULL when there is
 * nothing to go back to (message in err, PC_E_INVALID_ARG).
 */
int pc_release_rollback_target(pc_release *r, const char *channel,
                               char **sha256, pc_error *err);

/*
 * Listing, each a new object owned by the caller:
 * - pc_release_list: {"channels": [{"channel", "sha256", "name",
 *   "version", "since_ms"}], "artifacts": [{"sha256", "name", "version",
 *   "key_id", "added_ms"}]};
 * - pc_release_show: one artifact by channel name, sha256 (or a unique
 *   prefix of 8 or more hex digits) or "NAME@VERSION": {"sha256", "name",
 *   "version", "key_id", "added_ms", "manifest", "channels": [names of
 *   the channels that point at it]}; an existing channel's name wins over
 *   a digest prefix spelt the same way; PC_E_INVALID_ARG naming what
 *   matched when nothing or more than one matches, or the channel is
 *   empty;
 * - pc_release_history: the events of `channel` (NULL: all), oldest
 *   first: [{"id", "time_ms", "actor", "action", "channel", "sha256",
 *   "name", "version", "before", "after", "reason", "gates", "detail"}];
 *   a channel with no event that does not exist is PC_E_INVALID_ARG.
 */
int pc_release_list(pc_release *r, struct json_object **out, pc_error *err);
int pc_release_show(pc_release *r, const char *what, struct json_object **out,
                    pc_error *err);
int pc_release_history(pc_release *r, const char *channel,
                       struct json_object **out, pc_error *err);

#endif
