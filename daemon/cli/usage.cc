#include "daemon/cli/usage.h"

namespace rollbackd {

const char kTopUsage[] =
    "usage: rollbackd <command> [options]        (rollbackd <command> --help: one command)\n"
    "\n"
    "commands:\n"
    "  run --config FILE [--log-format text|json] [--log-level LEVEL]\n"
    "                           run the daemon (SIGHUP reloads, SIGTERM drains and stops)\n"
    "  check --config FILE      validate rollbackd.toml and every rule file it names\n"
    "  check RULEFILE...        validate rule files on their own\n"
    "  test [-v] TESTFILE...    run rule unit tests (see docs/rules.md)\n"
    "  replay --config FILE --from TIME --to TIME [--html FILE] ...\n"
    "                           what the rules would have done over Prometheus history\n"
    "  status [--service NAME] [--json]\n"
    "                           what the running daemon sees: triggers, states, values\n"
    "  pause SERVICE            automatic rollbacks of SERVICE are skipped until resumed\n"
    "  resume SERVICE           undoes pause\n"
    "  deploy SERVICE VERSION   tell the daemon that VERSION of SERVICE was deployed\n"
    "  version                  print the version\n"
    "  help [COMMAND]           this text, or COMMAND's\n"
    "\n"
    "status, pause, resume and deploy talk to a running daemon's API: --url URL, or --config FILE\n"
    "for its [daemon].listen; by default /etc/rollbackd/rollbackd.toml if it exists, else\n"
    "http://127.0.0.1:9464.\n";

namespace {

constexpr const char kRun[] =
    "usage: rollbackd run --config FILE [--log-format text|json] [--log-level LEVEL]\n"
    "                     [--listen ADDR]\n"
    "\n"
    "Runs the daemon in the foreground. SIGHUP reloads the configuration, SIGTERM drains and "
    "stops.\n"
    "\n"
    "  -c, --config FILE   the daemon config (rollbackd.toml)\n"
    "  --log-format F      text (default) or json, on stderr\n"
    "  --log-level L       trace, debug, info (default), warning or error\n"
    "  --listen ADDR       overrides [daemon].listen (127.0.0.1:0 picks a free port)\n"
    "  -h, --help          this text\n"
    "\n"
    "exit status: 0 stopped by SIGTERM/SIGINT, 1 could not start, 2 usage\n";

constexpr const char kCheck[] =
    "usage: rollbackd check --config FILE\n"
    "       rollbackd check RULEFILE...\n"
    "\n"
    "Validates the daemon config and every rule file it names, or rule files on their own;\n"
    "every problem is reported as file:line:column.\n"
    "\n"
    "  -c, --config FILE   the daemon config (rollbackd.toml)\n"
    "  -h, --help          this text\n"
    "\n"
    "exit status: 0 valid, 1 errors, 2 usage\n";

constexpr const char kTest[] =
    "usage: rollbackd test [-v] TESTFILE...\n"
    "\n"
    "Runs rule unit tests: synthetic series in promtool's notation against the expected events\n"
    "(docs/rules.md).\n"
    "\n"
    "  -v, --verbose       print every test and its event timeline, not only failures\n"
    "  -h, --help          this text\n"
    "\n"
    "exit status: 0 all passed, 1 a test failed or a file is invalid, 2 usage\n";

constexpr const char kVersion[] =
    "usage: rollbackd version\n"
    "\n"
    "Prints the version.\n";

constexpr const char kHelp[] =
    "usage: rollbackd help [COMMAND]\n"
    "\n"
    "Prints the list of commands, or COMMAND's usage.\n";

#define ROLLBACKD_API_OPTIONS                                                                  \
  "  --url URL           the daemon's API, e.g. http://127.0.0.1:9464\n"                       \
  "  --config FILE       the daemon config: its [daemon].listen is the address (--url wins)\n" \
  "                      default: /etc/rollbackd/rollbackd.toml if it exists, else\n"          \
  "                      http://127.0.0.1:9464\n"

#define ROLLBACKD_TOKEN_OPTIONS                                                                 \
  "  --token-file FILE   the API token (default: the config's [daemon].api_token_file; never\n" \
  "                      taken from a config the address did not come from, and never printed)\n"

#define ROLLBACKD_MUTATING_EXIT                                                               \
  "exit status: 0 done (in cluster mode also when forwarded to the owning member), 1 other\n" \
  "error, 2 usage, 3 daemon unreachable, 4 token missing, unreadable or wrong (401),\n"       \
  "5 mutating API disabled (403: no [daemon].api_token_file), 6 unknown service (404)\n"

constexpr const char kStatus[] =
    "usage: rollbackd status [--url URL | --config FILE] [--service NAME] [--json]\n"
    "\n"
    "What the running daemon sees (GET /api/v1/status): one row per series of every trigger and\n"
    "health check, columns SERVICE VERSION TRIGGER STATE VALUE THRESHOLD SINCE. SINCE is how long\n"
    "a series has been pending or firing, and since when in UTC. Below the table: paused "
    "services,\n"
    "rollbacks in flight, the fleet brake and failing inputs. Colours only on a terminal, and\n"
    "never with NO_COLOR set.\n"
    "\n" ROLLBACKD_API_OPTIONS
    "  --service NAME      only this service\n"
    "  --json              the status document (only NAME's service with --service)\n"
    "  -h, --help          this text\n"
    "\n"
    "exit status: 0 shown, 1 unknown service or other error, 2 usage, 3 daemon unreachable\n";

constexpr const char kPause[] =
    "usage: rollbackd pause [--url URL | --config FILE] [--token-file FILE] SERVICE\n"
    "\n"
    "Pauses automatic rollbacks of SERVICE: its triggers are still evaluated and notified, but a\n"
    "rollback becomes rollback.skipped (paused). Survives restarts; `rollbackd resume` undoes it.\n"
    "\n" ROLLBACKD_API_OPTIONS ROLLBACKD_TOKEN_OPTIONS
    "  -h, --help          this text\n"
    "\n" ROLLBACKD_MUTATING_EXIT;

constexpr const char kResume[] =
    "usage: rollbackd resume [--url URL | --config FILE] [--token-file FILE] SERVICE\n"
    "\n"
    "Undoes `rollbackd pause SERVICE`: automatic rollbacks of SERVICE run again.\n"
    "\n" ROLLBACKD_API_OPTIONS ROLLBACKD_TOKEN_OPTIONS
    "  -h, --help          this text\n"
    "\n" ROLLBACKD_MUTATING_EXIT;

constexpr const char kDeploy[] =
    "usage: rollbackd deploy [--url URL | --config FILE] [--token-file FILE] SERVICE VERSION\n"
    "\n"
    "Tells the daemon that VERSION of SERVICE was just deployed (POST /api/v1/deploys), as a new\n"
    "version seen by [deploy].version_query would: snapshot baselines are taken and the deploy\n"
    "guard starts.\n"
    "\n" ROLLBACKD_API_OPTIONS ROLLBACKD_TOKEN_OPTIONS
    "  -h, --help          this text\n"
    "\n" ROLLBACKD_MUTATING_EXIT;

}  // namespace

const char* CommandUsage(std::string_view command) {
  if (command == "run") return kRun;
  if (command == "check") return kCheck;
  if (command == "test") return kTest;
  if (command == "status") return kStatus;
  if (command == "pause") return kPause;
  if (command == "resume") return kResume;
  if (command == "deploy") return kDeploy;
  if (command == "version") return kVersion;
  if (command == "help") return kHelp;
  return nullptr;
}

int UsageError(std::ostream& err, std::string_view command, const std::string& problem) {
  const char* usage = CommandUsage(command);
  err << "rollbackd " << command << ": " << problem << "\n\n" << (usage ? usage : kTopUsage);
  return 2;
}

}  // namespace rollbackd
