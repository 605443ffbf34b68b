/*
 * ft_record.h - the pure parts of the export-finetune optimizer: checking
 * a chat fine-tuning record and making a predictor path safe as a file
 * name. No host services beyond the pc.json/1 table given.
 */
#ifndef PC_FT_RECORD_H
#define PC_FT_RECORD_H

#include <stddef.h>

#include "promptc/plugin.h"

/*
 * pc__ft_record_check - check one record against the "chat" format:
 * exactly the key "messages", an array whose every element has exactly
 * "role" (one of "system", "user", "assistant") and a string "content";
 * the first message is "system", then "user" and "assistant" alternate
 * starting with "user", the last is "assistant", and no assistant
 * message is empty. Returns 0 when the record is valid; -1 with a
 * one-line reason in why[cap] (NUL-terminated, cut to fit) when not.
 * `js` and `rec` are borrowed.
 */
int pc__ft_record_check(const pc_json_api *js, const pc_json *rec,
                        char *why, size_t cap);

/*
 * pc__ft_file_name - the file of predictor `path` when each predictor has
 * its own dataset: "finetune-<path>.jsonl" with every byte that is not a
 * letter, digit, '.', '_' or '-' replaced by '_'. Written to out[cap];
 * returns 0, or -1 when it does not fit (out is then "").
 */
int pc__ft_file_name(const char *path, char *out, size_t cap);

#endif
