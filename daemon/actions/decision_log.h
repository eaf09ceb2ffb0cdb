// The decision log: one JSON line per event the engine produced, with the queries behind it, so an
// SRE can answer "why did it roll back at 03:12, or why not" from state_dir alone. Size-bounded:
// past `max_bytes` the file is rotated to <path>.1 (.1 to .2, ...), keeping `keep` old files.
//
// A log, not a journal: lines are written but not fsync'd (the rollback journal carries the
// exactly-once guarantee). Not thread-safe; the daemon's loop owns it.
#ifndef ROLLBACKD_ACTIONS_DECISION_LOG_H_
#define ROLLBACKD_ACTIONS_DECISION_LOG_H_

#include <memory>
#include <string>

#include "daemon/engine/engine.h"
#include "daemon/io/file_system.h"

namespace rollbackd {

class DecisionLog {
 public:
  ~DecisionLog();
  DecisionLog(const DecisionLog&) = delete;
  DecisionLog& operator=(const DecisionLog&) = delete;

  static std::unique_ptr<DecisionLog> Open(FileSystem& fs, const std::string& path,
                                           size_t max_bytes, int keep, std::string* error);

  // Appends `event` with the source and queries of its trigger as `engine` knows them. False (and
  // `error`) when the line could not be written; the caller logs it and goes on.
  bool Record(const Event& event, const Engine& engine, std::string* error);

  // The record for `event`, as written (one JSON object, no newline).
  static std::string Format(const Event& event, const Engine& engine);

 private:
  DecisionLog(FileSystem& fs, std::string path, std::unique_ptr<AppendFile> file,
              size_t max_bytes, int keep);
  bool Rotate(std::string* error);

  FileSystem& fs_;
  std::string path_;
  std::unique_ptr<AppendFile> file_;
  size_t size_;
  size_t max_bytes_;
  int keep_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_ACTIONS_DECISION_LOG_H_
