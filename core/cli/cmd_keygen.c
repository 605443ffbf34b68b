/* cmd_keygen.c - `promptc keygen`: make a minisign key pair for signing
 * artifacts. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "minisign.h"

static void keygen_usage(FILE *f)
{
  fputs("usage: promptc keygen -p KEY.pub -s KEY.sec [--no-password] "
        "[-f] [-c COMMENT]\n\n"
        "Make an Ed25519 key pair in minisign's format for signing "
        "artifacts\n(promptc pack --key KEY.sec) and verifying them "
        "(promptc verify -p KEY.pub,\nor minisign -V). The secret key is "
        "written with mode 0600 and encrypted\nwith a password (scrypt, "
        "as minisign does: about 1 GiB of memory for a few\nseconds); the "
        "password is asked twice on the terminal, or read from the "
        "first\nline of standard input (a second line, when present, must "
        "repeat it).\nPrints the key id and the public key.\n\n"
        "options:\n"
        "  -p, --public-key FILE  where to write the public key\n"
        "  -s, --secret-key FILE  where to write the secret key\n"
        "  -W, --no-password      store the secret key unencrypted (for "
        "CI secret\n"
        "                         stores; protect the file yourself)\n"
        "  -f, --force            replace existing key files\n"
        "  -c, --comment TEXT     the secret key file's untrusted comment\n"
        "  -h, --help             show this help\n\n"
        "exit status: 0 written, 1 failed (a password refused), 2 usage, "
        "3 a key file\nexists (give --force), 4 unwritable or out of "
        "memory. See docs/signing.md.\n", f);
}

static int exists(const char *path)
{
  struct stat st;

  return lstat(path, &st) == 0;
}

/* The exit status for an error of pc_ms_keygen. */
static int keygen_status(const pc_error *err, const char *pub,
                         const char *sec, int force)
{
  switch (err->code) {
  case PC_E_INVALID_ARG:
    /* A key file that appeared meanwhile, else a bad comment. */
    return !force && (exists(pub) || exists(sec)) ? PC_EXIT_INPUT
                                                   : PC_EXIT_USAGE;
  case PC_E_IO:
  case PC_E_NOMEM:
    return PC_EXIT_ENV;
  default:
    return PC_EXIT_FAIL;
  }
}

int cmd_keygen(int argc, char **argv)
{
  static const struct option opts[] = {
    {"public-key", required_argument, NULL, 'p'},
    {"secret-key", required_argument, NULL, 's'},
    {"no-password", no_argument, NULL, 'W'},
    {"force", no_argument, NULL, 'f'},
    {"comment", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *pub = NULL, *sec = NULL, *comment = NULL;
  char *password = NULL, hex[PC_MS_KEYID_HEX_LEN + 1];
  char b64[PC_MS_PUBKEY_B64_LEN + 1];
  uint8_t keyid[PC_MS_KEYID_BYTES];
  pc_ms_pubkey pk;
  pc_error err = PC_ERROR_INIT;
  int no_password = 0, force = 0, c, status;

  optind = 1;
  while ((c = getopt_long(argc, argv, "p:s:Wfc:h", opts, NULL)) != -1) {
    switch (c) {
    case 'p': pub = optarg; break;
    case 's': sec = optarg; break;
    case 'W': no_password = 1; break;
    case 'f': force = 1; break;
    case 'c': comment = optarg; break;
    case 'h': keygen_usage(stdout); return PC_EXIT_OK;
    default: keygen_usage(stderr); return PC_EXIT_USAGE;
    }
  }
  if (optind < argc) {
    cli_error("keygen: unexpected argument '%s'", argv[optind]);
    return PC_EXIT_USAGE;
  }
  if (!pub || !sec || !*pub || !*sec) {
    cli_error("keygen: give both -p KEY.pub and -s KEY.sec");
    return PC_EXIT_USAGE;
  }
  if (strcmp(pub, sec) == 0) {
    cli_error("keygen: -p and -s name the same file '%s'", pub);
    return PC_EXIT_USAGE;
  }
  if (comment && strlen(comment) > PC_MS_UNTRUSTED_MAX) {
    cli_error("--comment: longer than %d bytes", PC_MS_UNTRUSTED_MAX);
    return PC_EXIT_USAGE;
  }
  /* Refuse before asking for a password that would be wasted. */
  if (!force && (exists(sec) || exists(pub))) {
    cli_error("keygen: %s already exists (add --force to replace the key "
              "pair)", exists(sec) ? sec : pub);
    return PC_EXIT_INPUT;
  }
  if (!no_password) {
    if ((status = cli_read_password("Password for the new secret key: ", 1,
                                    &password)))
      return status;
    if (isatty(STDERR_FILENO))
      fputs("Deriving a key from the password (scrypt, 1 GiB)... ", stderr);
  }
  if (pc_ms_keygen_comment(pub, sec, password, comment, force, keyid,
                           &err)) {
    if (password && isatty(STDERR_FILENO))
      fputs("\n", stderr);
    cli_password_free(password);
    return cli_fail(keygen_status(&err, pub, sec, force), &err, "keygen");
  }
  if (password && isatty(STDERR_FILENO))
    fputs("done\n", stderr);
  cli_password_free(password);
  if (pc_ms_pubkey_load(pub, &pk, &err))
    return cli_fail(PC_EXIT_ENV, &err, "keygen");
  pc_ms_keyid_hex(keyid, hex);
  pc_ms_pubkey_base64(&pk, b64);
  printf("The secret key was saved as %s%s - keep it secret.\n", sec,
         no_password ? " (not encrypted)" : "");
  printf("The public key was saved as %s - it can be shared.\n\n", pub);
  printf("key id: %s\npublic key: %s\n\n", hex, b64);
  printf("Verify what it signs with:\n"
         "  promptc verify NAME.ppa -p %s\n"
         "  minisign -Vm FILE -P %s\n", pub, b64);
  return fflush(stdout) == 0 ? PC_EXIT_OK : PC_EXIT_ENV;
}
