/*
 * dataset.h - datasets of examples read from JSONL or CSV files.
 *
 * A dataset is one split (train, val or test) of examples, each a JSON
 * object of fields with an id and an optional slice. Loading checks every
 * row: a malformed one is an error naming file:line, or, when the caller
 * asks for it, is skipped and listed in `skipped`, never dropped silently.
 * Two sha256 digests identify data: the split hash (the whole split, in
 * order) and the content hash (one example, ignoring its id and slice).
 * docs/datasets.md defines the formats and both hashes exactly.
 *
 * Thread: no global state; a loaded dataset may be read by many threads
 * at once, but only one may free it.
 */
#ifndef PC_DATASET_H
#define PC_DATASET_H

#include <stddef.h>

#include "errors.h"
#include "hash.h"

struct json_object;

/* File formats for pc_dataset_opts.format. */
#define PC_DATASET_AUTO 0   /* from the extension: .jsonl .ndjson .json .csv */
#define PC_DATASET_JSONL 1  /* one JSON object per line */
#define PC_DATASET_CSV 2    /* RFC 4180, header row names the fields */

/* Longest line (JSONL) or record (CSV) accepted when max_line is 0. */
#define PC_DATASET_MAX_LINE_DEFAULT ((size_t)16 << 20)  /* 16 MiB */

/* One example: a row of the file. */
typedef struct pc_example {
  char *id;                    /* owned: "id" member, else the line number */
  char *slice;                 /* owned: "slice" member, or NULL */
  struct json_object *fields;  /* owned reference: the row's whole object */
  size_t line;                 /* 1-based physical line the row starts on */
} pc_example;

/* One malformed row left out because skip_malformed was set. */
typedef struct pc_dataset_skip {
  size_t line;   /* 1-based physical line the row starts on */
  char *reason;  /* owned: one line, the text after "FILE:LINE: " */
} pc_dataset_skip;

/* How to read a file. A zeroed struct (or NULL) means: format from the
 * extension, no input keys required, malformed rows are errors, lines up
 * to PC_DATASET_MAX_LINE_DEFAULT bytes. */
typedef struct pc_dataset_opts {
  const char *const *input_keys;  /* borrowed: keys every row must have */
  size_t n_input_keys;
  int skip_malformed;  /* non-zero: skip and record malformed rows */
  int format;          /* PC_DATASET_AUTO, _JSONL or _CSV */
  size_t max_line;     /* bytes; 0 means PC_DATASET_MAX_LINE_DEFAULT */
} pc_dataset_opts;

/* A loaded split. Everything in it is owned by the dataset and released
 * by pc_dataset_free(); callers read the fields but do not change them. */
typedef struct pc_dataset {
  char *path;             /* owned: the file name or origin used in messages */
  char **input_keys;      /* owned: copies of the requested input keys */
  size_t n_input_keys;
  pc_example *rows;       /* owned: n_rows examples in file order */
  size_t n_rows;
  pc_dataset_skip *skipped;  /* owned: n_skipped rows left out, in order */
  size_t n_skipped;
} pc_dataset;

/*
 * pc_dataset_load - read a JSONL or CSV file into a new dataset.
 *
 * Reads all of `path` and parses it as pc_dataset_parse() does, with
 * `path` as the origin. Returns PC_OK and stores the dataset in *out, which
 * the caller releases with pc_dataset_free(). On failure *out is NULL and
 * the code is PC_E_IO (the file cannot be read), PC_E_PARSE (a malformed
 * row, a duplicate id, a bad CSV header), PC_E_INVALID_ARG (bad options,
 * unknown extension) or PC_E_NOMEM; `err` gets one line that starts with
 * "PATH:LINE: " when a row is at fault, else with "PATH: ".
 *
 * `path` and `opts` (may be NULL) are borrowed for the call.
 */
int pc_dataset_load(const char *path, const pc_dataset_opts *opts,
                    pc_dataset **out, pc_error *err);

/*
 * pc_dataset_parse - parse a dataset held in memory.
 *
 * `text` holds `len` bytes of JSONL or CSV; it need not be NUL-terminated.
 * `origin` names the source in messages and in ds->path, and with
 * PC_DATASET_AUTO its extension picks the format. Returns and fills *out
 * as pc_dataset_load() does; everything is borrowed for the call only.
 */
int pc_dataset_parse(const char *origin, const char *text, size_t len,
                     const pc_dataset_opts *opts, pc_dataset **out,
                     pc_error *err);

/* Release a dataset and everything in it. NULL is a no-op. */
void pc_dataset_free(pc_dataset *ds);

/*
 * pc_dataset_subset - a new dataset holding copies of the rows of `ds` at
 * indices[0..n) (in that order; an index may repeat), with the same input
 * keys and origin. No skipped rows. On PC_OK *out is owned by the caller
 * (pc_dataset_free); PC_E_INVALID_ARG names an index out of range.
 */
int pc_dataset_subset(const pc_dataset *ds, const size_t *indices, size_t n,
                      pc_dataset **out, pc_error *err);

/*
 * pc_dataset_hash - the split hash of a dataset.
 *
 * sha256 over the canonical JSON of each row's fields (sorted keys,
 * compact), each followed by "\n", in row order; written as 64 lowercase
 * hex digits and a NUL into `hex`. Key order and whitespace inside a line
 * do not change it; row order and every value do. Returns PC_OK, or
 * PC_E_NOMEM (hex is then the empty string).
 */
int pc_dataset_hash(const pc_dataset *ds, char hex[PC_SHA256_HEX_LEN + 1]);

/*
 * pc_example_content_hash - the content hash of one example.
 *
 * sha256 of the canonical JSON of the example's fields without the "id"
 * and "slice" members, so the same example under another id or slice has
 * the same hash (used to check that splits are disjoint). Returns PC_OK,
 * or PC_E_NOMEM (hex is then the empty string).
 */
int pc_example_content_hash(const pc_example *ex,
                            char hex[PC_SHA256_HEX_LEN + 1]);

/*
 * pc_dataset_parse_keys - split a comma-separated list of key names.
 *
 * "question, context" gives {"question", "context"}: names are trimmed of
 * spaces and tabs. An empty list, an empty name or a name given twice is
 * PC_E_INVALID_ARG with a message naming the list. On success *keys owns
 * *n strings (release with pc_dataset_keys_free()); on failure *keys is
 * NULL and *n is 0. `csv_list` is borrowed.
 */
int pc_dataset_parse_keys(const char *csv_list, char ***keys, size_t *n,
                          pc_error *err);

/* Release an array from pc_dataset_parse_keys(). NULL is a no-op. */
void pc_dataset_keys_free(char **keys, size_t n);

#endif
