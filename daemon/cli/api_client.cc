#include "daemon/cli/api_client.h"

#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "daemon/cli/status_table.h"
#include "daemon/config/loader.h"
#include "daemon/config/toml_reader.h"
#include "daemon/io/http_client.h"

namespace rollbackd {
namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// "host:port" gets http://; a URL keeps its scheme and path (a proxy's prefix).
std::optional<std::string> NormalizeUrl(std::string url, std::string* error) {
  if (url.find("://") == std::string::npos) url = "http://" + url;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    *error = "--url must be http://HOST:PORT or https://...: " + CleanForTerminal(url);
    return std::nullopt;
  }
  while (url.size() > 8 && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

std::string UrlForListen(std::string_view listen) {
  const size_t colon = listen.rfind(':');
  std::string host(listen.substr(0, colon == std::string_view::npos ? 0 : colon));
  const std::string port(colon == std::string_view::npos ? listen : listen.substr(colon + 1));
  // The daemon binds "localhost" as 127.0.0.1 only (it does not resolve names); curl would try
  // ::1 first.
  if (host.empty() || host == "0.0.0.0" || host == "localhost") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  return "http://" + host + ":" + port;
}

std::optional<ApiTarget> ResolveTarget(const TargetFlags& flags, const std::string& default_config,
                                       std::string* error) {
  ApiTarget target;
  target.config = flags.config;
  if (target.config.empty() && flags.url.empty() && Exists(default_config)) {
    target.config = default_config;
  }
  std::string listen = kDefaultListen;
  if (!target.config.empty()) {
    std::string read_error;
    auto text = ReadTextFile(target.config, &read_error);
    if (!text) {
      *error = target.config + ": " + read_error +
               (flags.config.empty() ? " (pass --url URL or --config FILE)" : "");
      return std::nullopt;
    }
    Diagnostics diags;
    auto config = ParseDaemonConfig(*text, target.config, &diags);
    if (!config) {
      *error = "cannot use " + target.config + ":";
      for (const auto& d : diags.Sorted()) {
        if (d.level == Diagnostic::Level::kError) *error += "\n  " + d.ToString();
      }
      return std::nullopt;
    }
    listen = config->daemon.listen;
    target.token_file = config->daemon.api_token_file;
  }
  if (!flags.token_file.empty()) target.token_file = flags.token_file;
  if (!flags.url.empty()) {
    auto url = NormalizeUrl(flags.url, error);
    if (!url) return std::nullopt;
    target.base_url = *url;
  } else {
    target.base_url = UrlForListen(listen);
  }
  return target;
}

ApiAnswer CallApi(const std::string& method, const std::string& url, const std::string& body,
                  const std::string& token, Duration timeout) {
  boost::asio::io_context io;
  HttpClient client(io);
  HttpRequest request;
  request.method = method;
  request.url = url;
  request.body = body;
  request.timeout = timeout;
  request.bearer_token = token;
  if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  std::optional<HttpResponse> got;
  client.Send(std::move(request), [&got](HttpResponse r) { got = std::move(r); });
  // The client bounds the exchange by `timeout`; the loop's own bound is only a backstop.
  const auto give_up = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(5);
  while (!got && std::chrono::steady_clock::now() < give_up) {
    if (io.run_one_for(std::chrono::seconds(1)) == 0 && io.stopped()) break;
  }
  ApiAnswer answer;
  if (!got) {
    answer.error = "no answer within " + std::to_string(timeout.count() / 1000) + " s";
    return answer;
  }
  answer.status = got->status;
  answer.body = std::move(got->body);
  if (answer.status == 0) {
    answer.error = got->error.empty() ? "no answer" : got->error;
    answer.refused = got->transport == TransportError::kConnection;
    return answer;
  }
  if (answer.status >= 300) {
    nlohmann::json j = nlohmann::json::parse(answer.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) {
      answer.message = CleanForTerminal(j["error"].get<std::string>());
    } else {
      answer.message = CleanForTerminal(answer.body.substr(0, 200));
      while (!answer.message.empty() && answer.message.back() == ' ') answer.message.pop_back();
    }
  }
  return answer;
}

}  // namespace rollbackd
