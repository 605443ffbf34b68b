/* cmd_sim_server.c - `promptc sim-server`: serve the LM of a run config
 * over the OpenAI, Anthropic and Ollama HTTP APIs on loopback, with fault
 * injection, until SIGINT or SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "host.h"
#include "lm.h"
#include "sim_server.h"

/* Long secrets are refused rather than cut. */
#define KEY_MAX 4096

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
  (void)sig;
  stop_requested = 1;
}

static void sim_usage(FILE *f)
{
  fputs("usage: promptc sim-server --config CONFIG.json "
        "[--listen HOST:PORT] [options]\n\n"
        "Serve the config's \"lm\" role (normally the sim) over HTTP until "
        "SIGINT or\nSIGTERM: POST /v1/chat/completions (OpenAI), POST "
        "/v1/messages (Anthropic),\nPOST /api/chat, GET /api/tags, POST "
        "/api/show (Ollama), GET /stats,\nPOST /stats/reset. See "
        "docs/sim-server.md.\n\n"
        "options:\n"
        "  -c, --config FILE        run configuration whose \"lm\" role is "
        "served (required)\n"
        "  -l, --listen HOST:PORT   address: IPv4, [IPv6] or localhost; "
        "port 0 picks a\n"
        "                           free one (default 127.0.0.1:0)\n"
        "      --force              listen on an address that is not "
        "loopback\n"
        "      --port-file FILE     also write the port number to FILE "
        "(atomically;\n"
        "                           removed again when the server stops)\n"
        "      --model-name NAME    the served model name (default: the "
        "LM's identity)\n"
        "      --drift-after N      after N answers, change the OpenAI "
        "fingerprint and\n"
        "                           the Ollama digest (model drift)\n"
        "      --api-key REF        require this key: a secret reference, "
        "env:NAME or\n"
        "                           file:PATH (OpenAI and Ollama: "
        "Authorization: Bearer\n"
        "                           KEY; Anthropic: x-api-key: KEY); "
        "else 401\n"
        "      --max-context-tokens N  refuse prompts over N tokens "
        "(bytes / 4) with 400\n\n"
        "faults (fractions from 0 to 1, summing to at most 1; drawn per "
        "request from\n"
        "the seed, the request and how often it was seen):\n"
        "      --latency-ms N       sleep N ms before answering an LM "
        "request\n"
        "      --latency-jitter-ms J  plus a draw from 0 to J ms\n"
        "      --fail-429 F         answer 429 with Retry-After\n"
        "      --retry-after SPEC   SECONDS (default 1), date (an HTTP date "
        "1 s ahead),\n"
        "                           date:SECONDS, or ms:N (retry-after-ms: "
        "N)\n"
        "      --fail-500 F         answer 500\n"
        "      --fail-503 F         answer 503\n"
        "      --stall F            send nothing for --stall-ms, then "
        "close\n"
        "      --stall-ms N         how long a stall lasts (default "
        "30000)\n"
        "      --truncate F         send half the body (or stream), then "
        "close\n"
        "      --malformed F        answer 200 with broken JSON (or broken "
        "stream lines)\n"
        "      --seed N             seed of the fault draws (default 0)\n"
        "  -h, --help               show this help\n\n"
        "It prints \"sim-server: listening on http://HOST:PORT\" on stdout "
        "once ready.\n"
        "Exit status: 0 stopped by a signal, 2 usage (bad flag, "
        "non-loopback address\nwithout --force), 3 bad config, 4 plugin "
        "or environment problem (address in\nuse).\n", f);
}

/* Option codes without a short letter. */
enum {
  OPT_FORCE = 2001, OPT_PORT_FILE, OPT_MODEL_NAME, OPT_DRIFT_AFTER,
  OPT_API_KEY, OPT_MAX_CONTEXT, OPT_LATENCY, OPT_JITTER, OPT_FAIL_429,
  OPT_RETRY_AFTER, OPT_FAIL_500, OPT_FAIL_503, OPT_STALL, OPT_STALL_MS,
  OPT_TRUNCATE, OPT_MALFORMED, OPT_SEED,
};

/* A fraction from 0 to 1, the whole argument. */
static int read_fraction(const char *flag, const char *arg, double *out)
{
  char *end;
  double v;

  errno = 0;
  v = strtod(arg, &end);
  if (!*arg || *end || errno || !(v >= 0.0 && v <= 1.0)) {
    cli_error("%s: expected a fraction from 0 to 1, got '%s'", flag, arg);
    return -1;
  }
  *out = v;
  return 0;
}

/* A decimal integer from `min` to `max`, the whole argument. */
static int read_int(const char *flag, const char *arg, long long min,
                    long long max, long long *out)
{
  char *end;
  long long v;

  errno = 0;
  v = strtoll(arg, &end, 10);
  if (!*arg || *end || errno || v < min || v > max) {
    cli_error("%s: expected an integer from %lld to %lld, got '%s'", flag,
              min, max, arg);
    return -1;
  }
  *out = v;
  return 0;
}

/* Everything the command parsed. */
struct sim_cmd {
  const char *config;
  const char *listen;
  int force;
  const char *port_file;
  const char *api_key_ref;
  pc_sim_server_opts opts;
};

/* Parse the flags into `o`: PC_EXIT_OK, PC_EXIT_USAGE after a message,
 * or -1 after --help. */
static int parse_flags(int argc, char **argv, struct sim_cmd *o)
{
  static const struct option opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"listen", required_argument, NULL, 'l'},
    {"force", no_argument, NULL, OPT_FORCE},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"model-name", required_argument, NULL, OPT_MODEL_NAME},
    {"drift-after", required_argument, NULL, OPT_DRIFT_AFTER},
    {"api-key", required_argument, NULL, OPT_API_KEY},
    {"max-context-tokens", required_argument, NULL, OPT_MAX_CONTEXT},
    {"latency-ms", required_argument, NULL, OPT_LATENCY},
    {"latency-jitter-ms", required_argument, NULL, OPT_JITTER},
    {"fail-429", required_argument, NULL, OPT_FAIL_429},
    {"retry-after", required_argument, NULL, OPT_RETRY_AFTER},
    {"fail-500", required_argument, NULL, OPT_FAIL_500},
    {"fail-503", required_argument, NULL, OPT_FAIL_503},
    {"stall", required_argument, NULL, OPT_STALL},
    {"stall-ms", required_argument, NULL, OPT_STALL_MS},
    {"truncate", required_argument, NULL, OPT_TRUNCATE},
    {"malformed", required_argument, NULL, OPT_MALFORMED},
    {"seed", required_argument, NULL, OPT_SEED},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  pc_sim_faults *f = &o->opts.faults;
  pc_error err = PC_ERROR_INIT;
  long long v;
  int c, bad = 0;

  optind = 1;
  while (!bad && (c = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': o->config = optarg; break;
    case 'l': o->listen = optarg; break;
    case OPT_FORCE: o->force = 1; break;
    case OPT_PORT_FILE: o->port_file = optarg; break;
    case OPT_MODEL_NAME:
      if (!*optarg) {
        cli_error("--model-name: the name cannot be empty");
        bad = 1;
      }
      o->opts.model_name = optarg;
      break;
    case OPT_DRIFT_AFTER:
      bad = read_int("--drift-after", optarg, 1, INT64_MAX, &v);
      o->opts.drift_after = (uint64_t)v;
      break;
    case OPT_API_KEY: o->api_key_ref = optarg; break;
    case OPT_MAX_CONTEXT:
      bad = read_int("--max-context-tokens", optarg, 1, INT64_MAX, &v);
      o->opts.max_context_tokens = v;
      break;
    case OPT_LATENCY:
      bad = read_int("--latency-ms", optarg, 0, 3600000, &v);
      f->latency_ms = v;
      break;
    case OPT_JITTER:
      bad = read_int("--latency-jitter-ms", optarg, 0, 3600000, &v);
      f->latency_jitter_ms = v;
      break;
    case OPT_STALL_MS:
      bad = read_int("--stall-ms", optarg, 0, 3600000, &v);
      f->stall_ms = v;
      break;
    case OPT_SEED:
      bad = read_int("--seed", optarg, 0, INT64_MAX, &v);
      f->seed = (uint64_t)v;
      break;
    case OPT_FAIL_429: bad = read_fraction("--fail-429", optarg,
                                           &f->fail_429); break;
    case OPT_FAIL_500: bad = read_fraction("--fail-500", optarg,
                                           &f->fail_500); break;
    case OPT_FAIL_503: bad = read_fraction("--fail-503", optarg,
                                           &f->fail_503); break;
    case OPT_STALL: bad = read_fraction("--stall", optarg, &f->stall); break;
    case OPT_TRUNCATE: bad = read_fraction("--truncate", optarg,
                                           &f->truncate); break;
    case OPT_MALFORMED: bad = read_fraction("--malformed", optarg,
                                            &f->malformed); break;
    case OPT_RETRY_AFTER:
      if (pc_sim_retry_after_parse(optarg, f, &err)) {
        cli_error("%s", err.message);
        bad = 1;
      }
      break;
    case 'h':
      sim_usage(stdout);
      return -1;
    default:
      sim_usage(stderr);
      return PC_EXIT_USAGE;
    }
  }
  if (bad)
    return PC_EXIT_USAGE;
  if (optind < argc) {
    cli_error("sim-server: unexpected argument '%s'", argv[optind]);
    return PC_EXIT_USAGE;
  }
  if (!o->config) {
    cli_error("sim-server: --config is required: its \"lm\" role is the "
              "model served (examples/*/sim.json use the built-in sim)");
    return PC_EXIT_USAGE;
  }
  if (pc_sim_faults_check(f, &err)) {
    cli_error("%s", err.message);
    return PC_EXIT_USAGE;
  }
  if (pc_sim_listen_parse(o->listen, &o->opts.listen, &err)) {
    cli_error("%s", err.message);
    return PC_EXIT_USAGE;
  }
  if (!o->opts.listen.loopback && !o->force) {
    cli_error("--listen %s: %s is not a loopback address; the sim-server "
              "has no TLS and is meant for tests, so pass --force to "
              "serve it there anyway", o->listen, o->opts.listen.host);
    return PC_EXIT_USAGE;
  }
  return PC_EXIT_OK;
}

/* Wait for SIGINT or SIGTERM, blocked but for the moments of
 * sigsuspend, which runs with the mask `unblocked`. */
static void wait_for_stop(const sigset_t *unblocked)
{
  while (!stop_requested)
    sigsuspend(unblocked);
}

int cmd_sim_server(int argc, char **argv)
{
  struct sim_cmd o;
  pc_config *cfg = NULL;
  pc_registry *reg = NULL;
  pc_lm *lm = NULL;
  pc_sim_server *srv = NULL;
  pc_error err = PC_ERROR_INIT;
  struct sigaction sa, old_int, old_term;
  sigset_t stops, old_mask;
  char key[KEY_MAX];
  size_t key_len = 0;
  int status, have_key = 0, wrote_port = 0;

  memset(&o, 0, sizeof(o));
  o.listen = "127.0.0.1:0";
  pc_sim_faults_init(&o.opts.faults);
  status = parse_flags(argc, argv, &o);
  if (status < 0)
    return PC_EXIT_OK;  /* --help */
  if (status != PC_EXIT_OK)
    return status;
  if (o.api_key_ref) {
    /* Something that is not a reference may be the key itself: never
     * repeat it. Otherwise the message names the reference only. */
    if (strncmp(o.api_key_ref, "env:", 4) != 0 &&
        strncmp(o.api_key_ref, "file:", 5) != 0) {
      cli_error("--api-key: expected a secret reference, env:NAME or "
                "file:PATH (the value given is not shown)");
      return PC_EXIT_USAGE;
    }
    if (pc_host_secret_lookup(o.api_key_ref, key, sizeof(key), &key_len,
                              &err)) {
      cli_error("--api-key: %s", err.message);
      explicit_bzero(key, sizeof(key));
      return PC_EXIT_USAGE;
    }
    have_key = 1;
    o.opts.api_key = key;
    o.opts.api_key_len = key_len;
  }

  status = cli_load_config(o.config, &cfg);
  if (status == PC_EXIT_OK)
    status = cli_load_registry(cfg, &reg);
  if (status != PC_EXIT_OK)
    goto out;
  if (!cfg->roles[PC_ROLE_LM]) {
    cli_error("%s: no \"lm\" configured: the sim-server serves the config's "
              "\"lm\" role", o.config);
    status = PC_EXIT_INPUT;
    goto out;
  }
  if (pc_lm_open(reg, "lm", cfg->roles[PC_ROLE_LM], cfg->base_dir, &lm,
                 &err)) {
    status = cli_fail(err.code == PC_E_INVALID_ARG ? PC_EXIT_INPUT
                                                   : PC_EXIT_ENV,
                      &err, o.config);
    goto out;
  }
  o.opts.lm = lm;

  /* SIGINT and SIGTERM stay blocked outside sigsuspend, in this thread
   * and in every thread the server starts (they inherit the mask), so
   * the handler runs here and nowhere else. */
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stops, &old_mask);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  signal(SIGPIPE, SIG_IGN);  /* a client that went away is no crash */
  stop_requested = 0;

  if (pc_sim_server_start(&o.opts, &srv, &err)) {
    status = cli_fail(err.code == PC_E_IO ? PC_EXIT_ENV : PC_EXIT_USAGE,
                      &err, "sim-server");
    goto restore;
  }
  if (o.opts.listen.ipv6)
    printf("sim-server: listening on http://[%s]:%u\n", o.opts.listen.host,
           (unsigned)pc_sim_server_port(srv));
  else
    printf("sim-server: listening on http://%s:%u\n", o.opts.listen.host,
           (unsigned)pc_sim_server_port(srv));
  fflush(stdout);
  if (o.port_file) {
    if (cli_write_port_file(o.port_file, pc_sim_server_port(srv))) {
      status = PC_EXIT_ENV;
      goto stop;
    }
    wrote_port = 1;
  }
  fprintf(stderr, "sim-server: serving \"%s\" (%s); stop with Ctrl-C\n",
          pc_lm_identity(lm), pc_lm_provider(lm));
  wait_for_stop(&old_mask);
  status = PC_EXIT_OK;
stop:
  fprintf(stderr, "sim-server: stopping after %llu requests\n",
          (unsigned long long)pc_sim_server_requests(srv));
  pc_sim_server_stop(srv);
  if (wrote_port)
    remove(o.port_file);
restore:
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
out:
  pc_lm_close(lm);
  pc_registry_free(reg);
  pc_config_free(cfg);
  if (have_key)
    explicit_bzero(key, sizeof(key));
  return status;
}
