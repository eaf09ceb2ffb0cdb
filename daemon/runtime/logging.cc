#include "daemon/runtime/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "daemon/engine/event.h"

namespace rollbackd {
namespace {

std::optional<spdlog::level::level_enum> ParseLevel(std::string_view s) {
  if (s == "trace") return spdlog::level::trace;
  if (s == "debug") return spdlog::level::debug;
  if (s == "info") return spdlog::level::info;
  if (s == "warning" || s == "warn") return spdlog::level::warn;
  if (s == "error") return spdlog::level::err;
  return std::nullopt;
}

std::string_view LevelName(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warning";
    case spdlog::level::err:
      return "error";
    default:
      return "critical";
  }
}

std::string Rfc3339(spdlog::log_clock::time_point t) {
  return FormatTime(std::chrono::time_point_cast<std::chrono::milliseconds>(t));
}

// One JSON object per line; the message escaped by nlohmann (never built by concatenation).
class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line = {
        {"time", Rfc3339(msg.time)},
        {"level", LevelName(msg.level)},
        {"msg", std::string_view(msg.payload.data(), msg.payload.size())}};
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// True when stderr is connected to the journal (systemd sets JOURNAL_STREAM to its device and
// inode): the journal stamps every line itself, so ours would be a duplicate.
bool StderrIsJournal() {
  const char* env = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (env == nullptr || ::fstat(STDERR_FILENO, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  return dev == static_cast<unsigned long long>(st.st_dev) &&
         ino == static_cast<unsigned long long>(st.st_ino);
}

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view s) {
  if (s == "text") return LogFormat::kText;
  if (s == "json") return LogFormat::kJson;
  return std::nullopt;
}

bool IsLogLevel(std::string_view s) { return ParseLevel(s).has_value(); }

void SetUpLogging(LogFormat format, std::string_view level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  if (format == LogFormat::kJson) {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        StderrIsJournal() ? "%l %v" : "%Y-%m-%dT%H:%M:%S.%eZ %l %v",
        spdlog::pattern_time_type::utc));
  }
  auto logger = std::make_shared<spdlog::logger>("rollbackd", sink);
  logger->set_level(ParseLevel(level).value_or(spdlog::level::info));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace rollbackd
