/*
 * mipro_util.h - MIPROv2's pure helpers (no host calls, no allocation):
 * the trial-count formula, the default train/val split, the schedule of
 * full evaluations and DSPy's strip_prefix (the field prefixes are
 * pc__opt_field_prefix, plugins/opt-common/opt_common.h). Unit-tested on
 * their own (tests/unit/test_opt_miprov2.c).
 */
#ifndef PC_MIPRO_UTIL_H
#define PC_MIPRO_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * pc__mipro_num_trials - DSPy's trial count for n candidates over P
 * predictors: int(max(2 v log2(n), 1.5 n)) with v = P in zero-shot mode,
 * 2P otherwise (n >= 1, P >= 1).
 */
int64_t pc__mipro_num_trials(int64_t n, int64_t predictors, int zeroshot);

/* DSPy's default val size when no valset is given:
 * min(1000, max(1, int(0.8 n_train))). */
int64_t pc__mipro_default_val_size(int64_t n_train);

/*
 * The full evaluations of minibatch mode. DSPy numbers Optuna trials from
 * 0 (the injected default program); each full evaluation is injected as
 * a trial and so takes a number too. After the objective of trial number
 * t, with trial_num = t + 1, a full evaluation runs when
 * trial_num % (steps + 1) == 0 or trial_num == adjusted - 1, where
 * adjusted = pc__mipro_adjusted_trials(K, steps). The net effect is one
 * after every `steps` minibatch trials and one after the last:
 * ceil(K / steps) in all.
 */
int64_t pc__mipro_adjusted_trials(int64_t num_trials, int64_t steps);
int pc__mipro_full_eval_due(int64_t trial_num, int64_t adjusted,
                            int64_t steps);
/* ceil(K / steps): the full evaluations a minibatch search makes. */
int64_t pc__mipro_full_evals(int64_t num_trials, int64_t steps);

/*
 * pc__mipro_strip_prefix - DSPy's strip_prefix on s[0..len): drop a
 * leading label of one to five words followed by ':' (words of letters,
 * digits, '_', '\'' and '-', separated by whitespace, optionally preceded
 * by '*' and whitespace) and the whitespace after it, then every '"' at
 * either end. Bytes >= 0x80 count as letters (Python's \w is Unicode).
 * The result is s[*start .. *end).
 */
void pc__mipro_strip_prefix(const char *s, size_t len, size_t *start,
                            size_t *end);

#endif
