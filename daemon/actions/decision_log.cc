#include "daemon/actions/decision_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "daemon/actions/fd_io.h"

namespace rollbackd {
namespace {

using nlohmann::json;

std::string Errno(const std::string& what) { return ErrnoMessage(what); }

int OpenForAppend(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

}  // namespace

DecisionLog::DecisionLog(std::string path, int fd, size_t size, size_t max_bytes, int keep)
    : path_(std::move(path)), fd_(fd), size_(size), max_bytes_(max_bytes), keep_(keep) {}

DecisionLog::~DecisionLog() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<DecisionLog> DecisionLog::Open(const std::string& path, size_t max_bytes, int keep,
                                               std::string* error) {
  int fd = OpenForAppend(path);
  if (fd < 0) {
    *error = Errno("open " + path);
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    *error = Errno("stat " + path);
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<DecisionLog>(
      new DecisionLog(path, fd, static_cast<size_t>(st.st_size), max_bytes, keep < 1 ? 1 : keep));
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
  if (!WriteAll(fd_, line, error)) {
    *error = path_ + ": " + *error;
    return false;
  }
  size_ += line.size();
  return true;
}

bool DecisionLog::Rotate(std::string* error) {
  // path.(keep-1) -> path.keep, ..., path -> path.1; the oldest falls off.
  for (int i = keep_ - 1; i >= 1; --i) {
    const std::string from = path_ + "." + std::to_string(i);
    const std::string to = path_ + "." + std::to_string(i + 1);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      *error = Errno("rename " + from);
      return false;
    }
  }
  if (::rename(path_.c_str(), (path_ + ".1").c_str()) != 0) {
    *error = Errno("rename " + path_);
    return false;
  }
  int fd = OpenForAppend(path_);
  if (fd < 0) {
    *error = Errno("open " + path_);
    return false;
  }
  ::close(fd_);
  fd_ = fd;
  size_ = 0;
  return true;
}

}  // namespace rollbackd
