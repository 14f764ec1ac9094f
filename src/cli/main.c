/*
 * cli/main.c - the mef3pool command: a table of subcommands.
 *
 * A build without gRPC (-DMEF3_WITH_GRPC=OFF) keeps `serve` and `client`
 * in the table, answering that they are not built, so a user learns why
 * rather than reading "unknown command".
 */
#include <string.h>

#include "cli.h"

#ifndef MEF3_CLI_WITH_GRPC
static int not_built(int argc, char **argv) {
  (void)argc;
  return cli_fail(CLI_FAIL,
                  "this mef3pool was built without gRPC "
                  "(cmake -DMEF3_WITH_GRPC=OFF): `%s` is not available",
                  argv[0]);
}
#define mef3_cli_serve not_built
#define mef3_cli_client not_built
#endif

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"info", mef3_cli_info, "channels, rates, spans, gaps, encryption, units"},
    {"read", mef3_cli_read, "decode a time window or sample range"},
    {"records", mef3_cli_records, "list the annotations (records)"},
    {"serve", mef3_cli_serve, "serve sessions over gRPC (mef3io-server API)"},
    {"client", mef3_cli_client, "talk to a server: open, info, read, list"},
    {"gen", mef3_cli_gen, "write a session of synthetic EEG-like data"},
    {"view", mef3_cli_view, "page through a session in a web browser"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: mef3pool COMMAND [ARGS...]\n"
             "       mef3pool --version | --help\n\n"
             "Fast access to MEF 3.0 recordings.\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n'mef3pool COMMAND --help' describes a command.\n"
             "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

int main(int argc, char **argv) {
  if (argc < 2)
    return cli_fail(CLI_USAGE, "give a command (info, read, records, serve, "
                               "client, gen, view)");
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("mef3pool %s\n", mef3_version());
    return CLI_OK;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
      !strcmp(argv[1], "help")) {
    usage(stdout);
    return CLI_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(argv[1], commands[i].name)) {
      cli_command = commands[i].name;
      return commands[i].run(argc - 1, argv + 1);
    }
  return cli_fail(CLI_USAGE,
                  "unknown command \"%s\" (info, read, records, serve, "
                  "client, gen, view)",
                  argv[1]);
}
