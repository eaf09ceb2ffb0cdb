#include "daemon/cli/operator_commands.h"

#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>

#include "daemon/cli/args.h"
#include "daemon/cli/status_table.h"
#include "daemon/cli/usage.h"
#include "daemon/config/loader.h"
#include "daemon/runtime/secrets.h"

namespace rollbackd {
namespace {

using nlohmann::json;

std::string Value(const ParsedArgs& p, const std::string& name) {
  auto it = p.values.find(name);
  return it == p.values.end() ? "" : it->second;
}

std::optional<ApiTarget> Target(const ParsedArgs& p, const OperatorEnv& env, std::ostream& err) {
  std::string error;
  auto target = ResolveTarget({Value(p, "--url"), Value(p, "--config"), Value(p, "--token-file")},
                              env.default_config, &error);
  if (!target) err << "rollbackd: " << error << "\n";
  return target;
}

// A failed exchange on `err` and its exit status; kExitOk when the daemon said yes (2xx).
int Failure(const ApiAnswer& a, const ApiTarget& t, const std::string& service, bool sent_token,
            std::ostream& err) {
  const std::string at = "the daemon at " + t.base_url;
  if (a.status == 0) {
    err << "rollbackd: cannot reach " << at << ": " << a.error
        << (a.refused ? " (is rollbackd running, and is this its [daemon].listen?)" : "") << "\n";
    return kExitUnreachable;
  }
  if (a.status >= 200 && a.status < 300) return kExitOk;
  if (a.status == 401) {
    if (sent_token) {
      err << "rollbackd: " << at << " refused the token from " << t.token_file
          << " (401: " << a.message << ")\n";
    } else {
      err << "rollbackd: " << at << " needs the API token (401: " << a.message
          << "): pass --token-file FILE, or --config FILE with [daemon].api_token_file\n";
    }
    return kExitUnauthorized;
  }
  if (a.status == 403) {
    err << "rollbackd: " << at << " has its mutating API disabled (403: " << a.message
        << "); it needs [daemon].api_token_file in its config\n";
    return kExitApiDisabled;
  }
  if (a.status == 404 && !service.empty() && a.message.rfind("unknown service", 0) == 0) {
    err << "rollbackd: " << at << " has no service " << CleanForTerminal(service)
        << " (404; `rollbackd status` lists its services)\n";
    return kExitUnknownService;
  }
  if (a.status == 404) {
    err << "rollbackd: " << at << " answered 404 (" << a.message
        << "): is that address a rollbackd API?\n";
    return kExitFailed;
  }
  err << "rollbackd: " << at << " answered " << a.status << ": " << a.message << "\n";
  return kExitFailed;
}

int Status(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           const OperatorEnv& env) {
  ParsedArgs p;
  std::string error;
  if (!ParseArgs(args, {{"--url", "--config", "--service"}, {"--json"}}, &p, &error)) {
    return UsageError(err, "status", error);
  }
  if (p.help) {
    out << CommandUsage("status");
    return kExitOk;
  }
  if (!p.positional.empty()) {
    return UsageError(
        err, "status",
        "unexpected argument " + p.positional.front() + " (one service: --service NAME)");
  }
  auto target = Target(p, env, err);
  if (!target) return kExitFailed;
  const ApiAnswer a = CallApi("GET", target->base_url + "/api/v1/status", "", "");
  if (int code = Failure(a, *target, "", false, err); code != kExitOk) return code;
  std::string doc, text;
  switch (FilterStatus(a.body, Value(p, "--service"), &doc, &error)) {
    case FilterResult::kOk:
      break;
    case FilterResult::kUnknownService:
      err << "rollbackd: " << error << "\n";
      return kExitFailed;
    case FilterResult::kBadDocument:
      err << "rollbackd: " << target->base_url << "/api/v1/status: " << error << "\n";
      return kExitFailed;
  }
  if (p.switches.count("--json")) {
    out << doc;
    return kExitOk;
  }
  if (!RenderStatusTable(doc, {env.color, env.now}, &text, &error)) {
    err << "rollbackd: " << error << "\n";
    return kExitFailed;
  }
  out << text;
  return kExitOk;
}

// pause, resume, deploy: one authorized POST.
int Change(const std::string& command, const std::vector<std::string>& args, std::ostream& out,
           std::ostream& err, const OperatorEnv& env) {
  ParsedArgs p;
  std::string error;
  if (!ParseArgs(args, {{"--url", "--config", "--token-file"}, {}}, &p, &error)) {
    return UsageError(err, command, error);
  }
  if (p.help) {
    out << CommandUsage(command);
    return kExitOk;
  }
  const size_t want = command == "deploy" ? 2 : 1;
  if (p.positional.size() != want) {
    return UsageError(
        err, command,
        command == "deploy" ? "deploy needs SERVICE and VERSION" : command + " needs one SERVICE");
  }
  const std::string& service = p.positional[0];
  // The name becomes a URL path segment: only names a rule file can have, never "." or "..".
  if (!IsValidName(service) || service == "." || service == "..") {
    return UsageError(
        err, command,
        "not a service name: " + CleanForTerminal(service) + " (letters, digits, _ . -)");
  }
  if (command == "deploy" && p.positional[1].empty()) {
    return UsageError(err, command, "VERSION must not be empty");
  }
  auto target = Target(p, env, err);
  if (!target) return kExitFailed;
  std::string token;
  if (!target->token_file.empty()) {
    auto read = ReadSecretFile(target->token_file, &error);
    if (!read) {
      err << "rollbackd: cannot read the API token: " << error << "\n";
      return kExitUnauthorized;
    }
    token = std::move(*read);
  }
  std::string url, body;
  if (command == "deploy") {
    url = target->base_url + "/api/v1/deploys";
    body = json{{"service", service}, {"version", p.positional[1]}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
  } else {
    url = target->base_url + "/api/v1/services/" + service + "/" + command;
  }
  const ApiAnswer a = CallApi("POST", url, body, token);
  if (int code = Failure(a, *target, service, !token.empty(), err); code != kExitOk) return code;
  const json answer = json::parse(a.body, nullptr, false);
  if (answer.is_object() && answer.contains("forwarded_to")) {
    const json& owner = answer["forwarded_to"];
    out << command << " of " << service << " handed through etcd to "
        << (owner.is_string() ? "its owner, member " + CleanForTerminal(owner.get<std::string>())
                              : std::string("its next owner (no member owns it right now)"))
        << ", which applies it\n";
  } else if (command == "pause") {
    out << "paused " << service << ": automatic rollbacks are skipped (rollback.skipped, paused) "
        << "until `rollbackd resume " << service << "`\n";
  } else if (command == "resume") {
    out << "resumed " << service << ": automatic rollbacks run again\n";
  } else {
    out << "recorded the deploy of " << service << " version " << CleanForTerminal(p.positional[1])
        << "\n";
  }
  return kExitOk;
}

}  // namespace

OperatorEnv ProcessOperatorEnv() {
  OperatorEnv env;
  const char* no_color = std::getenv("NO_COLOR");
  env.color = ::isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0');
  env.now = std::chrono::system_clock::now();
  return env;
}

bool IsOperatorCommand(std::string_view command) {
  return command == "status" || command == "pause" || command == "resume" || command == "deploy";
}

int OperatorMain(const std::string& command, const std::vector<std::string>& args,
                 std::ostream& out, std::ostream& err, const OperatorEnv& env) {
  if (command == "status") return Status(args, out, err, env);
  if (IsOperatorCommand(command)) return Change(command, args, out, err, env);
  return UsageError(err, command, "not an operator command");
}

}  // namespace rollbackd
