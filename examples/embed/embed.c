/*
 * embed.c - a C application that embeds promptc through promptc.h: it
 * runs, evaluates and compiles the triage example, and runs a signed
 * artifact when it is given one.
 *
 * usage: embed EXAMPLE_DIR OUT.json [ARTIFACT.ppa PUBLIC.key]
 *
 * EXAMPLE_DIR holds sim.json, program.json, input.json and data/ (as
 * examples/triage does). The compiled program is saved to OUT.json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <promptc/promptc.h>

/* Print "embed: WHAT: MESSAGE" for a failed call and return 1. */
static int fail(const char *what, int rc, const pc_error *err)
{
  fprintf(stderr, "embed: %s: %s (%s)\n", what,
          err->message[0] ? err->message : pc_strerror(rc), pc_errname(rc));
  return 1;
}

/* "DIR/NAME" in `buf` (`cap` bytes); 0 when it does not fit. */
static int join(char *buf, size_t cap, const char *dir, const char *name)
{
  int n = snprintf(buf, cap, "%s/%s", dir, name);

  return n > 0 && (size_t)n < cap;
}

/* The whole text of a small file, or NULL; free() it. */
static char *read_text(const char *path)
{
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  long n;

  if (!f)
    return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
      fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1))) {
    if (fread(text, 1, (size_t)n, f) != (size_t)n) {
      free(text);
      text = NULL;
    } else {
      text[n] = '\0';
    }
  }
  fclose(f);
  return text;
}

/* Evaluate `prog` on `data` with the config's metric and print the
 * score under `label`. */
static int score(pc_session *s, const pc_prog *prog, const char *data,
                 const char *label)
{
  pc_eval_summary sum = PC_EVAL_SUMMARY_INIT;
  pc_error err = PC_ERROR_INIT;
  int rc = pc_prog_eval(s, prog, data, NULL, &sum, &err);

  if (rc)
    return fail(label, rc, &err);
  printf("%s score %.4f over %llu examples (%llu errors)\n", label,
         sum.score, (unsigned long long)sum.n,
         (unsigned long long)sum.errors);
  return 0;
}

/* Load the signed artifact, trusting only `pubkey`, and run it. */
static int run_artifact(pc_session *s, const char *artifact,
                        const char *pubkey, const char *input)
{
  pc_prog *prog = NULL;
  pc_error err = PC_ERROR_INIT;
  char *out = NULL;
  int rc;

  rc = pc_prog_load_artifact(s, artifact, pubkey, NULL, &prog, &err);
  if (rc)
    return fail("artifact", rc, &err);
  rc = pc_prog_run(s, prog, input, &out, &err);
  if (rc == PC_OK)
    printf("artifact outputs %s\n", out);
  else
    fail("artifact run", rc, &err);
  pc_free_text(out);
  pc_prog_free(prog);
  return rc != PC_OK;
}

int main(int argc, char **argv)
{
  /* Small on purpose: two bootstrapped demos, two labelled ones. */
  static const char settings[] =
    "{\"max_bootstrapped_demos\": 2, \"max_labeled_demos\": 2}";
  char config[4096], program[4096], input_path[4096], train[4096],
    dev[4096];
  pc_session_opts opts = PC_SESSION_OPTS_INIT;
  pc_session *s = NULL;
  pc_prog *prog = NULL, *compiled = NULL;
  pc_error err = PC_ERROR_INIT;
  char *input = NULL, *out = NULL, *report = NULL;
  int rc, status = 1;

  if (argc != 3 && argc != 5) {
    fprintf(stderr, "usage: embed EXAMPLE_DIR OUT.json "
            "[ARTIFACT.ppa PUBLIC.key]\n");
    return 2;
  }
  if (!join(config, sizeof(config), argv[1], "sim.json") ||
      !join(program, sizeof(program), argv[1], "program.json") ||
      !join(input_path, sizeof(input_path), argv[1], "input.json") ||
      !join(train, sizeof(train), argv[1], "data/train.jsonl") ||
      !join(dev, sizeof(dev), argv[1], "data/dev.jsonl")) {
    fprintf(stderr, "embed: %s: path too long\n", argv[1]);
    return 2;
  }
  if (!(input = read_text(input_path))) {
    fprintf(stderr, "embed: %s: cannot read it\n", input_path);
    return 1;
  }
  printf("libpromptc %s\n", pc_version());

  opts.threads = 4;
  if ((rc = pc_session_open(config, &opts, &s, &err))) {
    fail("session", rc, &err);
    goto out;
  }
  if ((rc = pc_prog_load(program, &prog, &err))) {
    fail("program", rc, &err);
    goto out;
  }
  if ((rc = pc_prog_run(s, prog, input, &out, &err))) {
    fail("run", rc, &err);
    goto out;
  }
  printf("outputs %s\n", out);

  if (score(s, prog, dev, "baseline dev"))
    goto out;
  rc = pc_prog_compile(s, prog, "bootstrap", settings, train, dev, NULL,
                       &compiled, &report, &err);
  if (rc) {
    fail("compile", rc, &err);
    goto out;
  }
  printf("compile report %s\n", report);
  if (score(s, compiled, dev, "compiled dev"))
    goto out;
  if ((rc = pc_prog_save(compiled, argv[2], &err))) {
    fail("save", rc, &err);
    goto out;
  }
  printf("saved %s\n", argv[2]);

  if (argc == 5 && run_artifact(s, argv[3], argv[4], input))
    goto out;
  status = 0;
out:
  pc_free_text(report);
  pc_free_text(out);
  pc_prog_free(compiled);
  pc_prog_free(prog);
  pc_session_close(s);
  free(input);
  return status;
}
