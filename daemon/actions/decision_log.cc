#include "daemon/actions/decision_log.h"

#include <nlohmann/json.hpp>

namespace rollbackd {
namespace {

using nlohmann::json;

constexpr int kMode = 0640;

}  // namespace

DecisionLog::DecisionLog(FileSystem& fs, std::string path, std::unique_ptr<AppendFile> file,
                         size_t max_bytes, int keep)
    : fs_(fs),
      path_(std::move(path)),
      file_(std::move(file)),
      size_(file_->Size()),
      max_bytes_(max_bytes),
      keep_(keep) {}

DecisionLog::~DecisionLog() = default;

std::unique_ptr<DecisionLog> DecisionLog::Open(FileSystem& fs, const std::string& path,
                                               size_t max_bytes, int keep, std::string* error) {
  auto file = fs.OpenForAppend(path, kMode, error);
  if (!file) return nullptr;
  return std::unique_ptr<DecisionLog>(
      new DecisionLog(fs, path, std::move(file), max_bytes, keep < 1 ? 1 : keep));
}

std::string DecisionLog::Format(const Event& event, const Engine& engine) {
  json record = json::parse(EventToJson(event));
  json queries = json::object();
  if (auto ids = engine.trigger_inputs(event.service, event.trigger)) {
    const auto& inputs = engine.inputs();
    auto add = [&](const char* name, int id) {
      if (id < 0) return;
      const InputSpec& in = inputs[static_cast<size_t>(id)];
      if (in.kind == InputSpec::Kind::kProbe) {
        queries[name] = {{"probe", in.query}};
      } else {
        queries[name] = {{"source", in.source}, {"query", in.query}};
      }
    };
    add("query", ids->query);
    add("baseline_query", ids->baseline);
    add("min_traffic_query", ids->traffic);
  }
  record["queries"] = std::move(queries);
  return record.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool DecisionLog::Record(const Event& event, const Engine& engine, std::string* error) {
  const std::string line = Format(event, engine) + "\n";
  if (size_ > 0 && size_ + line.size() > max_bytes_ && !Rotate(error)) return false;
  if (!file_->Append(line, error)) return false;
  size_ += line.size();
  return true;
}

bool DecisionLog::Rotate(std::string* error) {
  // path.(keep-1) -> path.keep, ..., path -> path.1; the oldest falls off.
  for (int i = keep_ - 1; i >= 1; --i) {
    bool missing = false;
    if (!fs_.Rename(path_ + "." + std::to_string(i), path_ + "." + std::to_string(i + 1), error,
                    &missing) &&
        !missing) {
      return false;
    }
  }
  if (!fs_.Rename(path_, path_ + ".1", error)) return false;
  auto file = fs_.OpenForAppend(path_, kMode, error);
  if (!file) return false;
  file_ = std::move(file);
  size_ = 0;
  return true;
}

}  // namespace rollbackd
