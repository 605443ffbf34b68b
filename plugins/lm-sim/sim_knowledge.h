/*
 * sim_knowledge.h - the sim's knowledge: JSONL dataset files of examples
 * holding inputs and gold outputs, loaded once at create() and indexed so
 * that the row a request is about is found in constant time.
 *
 * The index maps (field name, text of the value as an adapter renders it,
 * whitespace collapsed) to the rows holding that value, through a 64-bit
 * key in an open-addressing hash table. A list value is indexed under
 * both of its renderings (numbered blobs for a str field, JSON for any
 * other type), so a request finds it whatever type its signature gives.
 * Keys can collide; callers confirm a candidate row by comparing text.
 */
#ifndef PC_SIM_KNOWLEDGE_H
#define PC_SIM_KNOWLEDGE_H

#include "sim_common.h"

/* At most this many distinct field names are remembered (for the
 * summaries of meta-prompts); rows may hold more. */
#define PC__SIM_MAX_NAMES 64

typedef struct pc__sim_row {
  pc_json *obj;   /* owned: the row's fields */
  char *id;       /* owned: the "id" member as text, else the line number */
  uint32_t line;  /* 1-based line in its file */
  uint32_t file;  /* index of its file in the knowledge list */
  int hard;       /* row[hard_field] reads as hard_value */
} pc__sim_row;

typedef struct pc__sim_entry {
  uint64_t key;
  uint32_t row;
  uint32_t unused;
} pc__sim_entry;

typedef struct pc__sim_slot {
  uint64_t key;
  uint32_t start;  /* first entry with this key */
  uint32_t count;  /* 0: the slot is empty */
} pc__sim_slot;

typedef struct pc__sim_knowledge {
  pc__sim_row *rows;        /* owned: n_rows rows, in file order */
  size_t n_rows;
  pc__sim_entry *entries;   /* owned: sorted by key, then row */
  size_t n_entries;
  pc__sim_slot *slots;      /* owned: n_slots (a power of two) */
  size_t n_slots;
  char *names[PC__SIM_MAX_NAMES];  /* owned: field names, first seen first */
  size_t n_names;
  char digest[PC_SHA256_HEX_SIZE]; /* sha256 hex (docs/sim.md, identity) */
} pc__sim_knowledge;

/*
 * pc__sim_knowledge_load - read the JSONL files `paths[0..n_paths)` (as
 * docs/datasets.md describes them: one object a line, blank lines
 * skipped, optional "id" and "slice"), mark the hard rows (hard_field
 * equal to hard_value) and build the index. `kn` is caller storage,
 * cleared first; on success release it with pc__sim_knowledge_clear.
 * Errors: PC_E_IO naming the file (cannot read), PC_E_PARSE naming
 * FILE:LINE (bad JSON, not an object, bad id or slice, duplicate id, no
 * rows at all), PC_E_NOMEM; then `kn` holds nothing.
 */
int pc__sim_knowledge_load(const pc__sim_host *h, char *const *paths,
                           size_t n_paths, const char *hard_field,
                           const char *hard_value, pc__sim_knowledge *kn,
                           pc_error *err);
void pc__sim_knowledge_clear(const pc__sim_host *h, pc__sim_knowledge *kn);

/* The index key of field `name` holding the rendered text s[0..len). */
uint64_t pc__sim_key(const char *name, const char *s, size_t len);

/* The entries with `key`: their count, the first in *first (borrowed from
 * kn). The rows of equal keys are in ascending order. */
size_t pc__sim_knowledge_find(const pc__sim_knowledge *kn, uint64_t key,
                              const pc__sim_entry **first);

#endif
