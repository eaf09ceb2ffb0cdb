// The rollback journal: an append-only file of JSON lines in state_dir. Before a hook starts, its
// intent is written and fsync'd; after it ends, its outcome. A rollback whose intent has no outcome
// was interrupted (crash, kill -9, power loss): it must not run again automatically. This is what
// makes "exactly once" survive restarts.
//
// Not thread-safe; the daemon's loop owns it. Writes are a few hundred bytes plus one fdatasync.
#ifndef ROLLBACKD_ACTIONS_JOURNAL_H_
#define ROLLBACKD_ACTIONS_JOURNAL_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/engine/engine.h"
#include "daemon/io/file_system.h"

namespace rollbackd {

// Above this size, Open() rewrites the journal with the unfinished intents and the last
// kJournalKeepFinished finished rollbacks (intent and outcome).
inline constexpr size_t kJournalCompactBytes = 1 << 20;
inline constexpr size_t kJournalKeepFinished = 256;

struct JournalIntent {
  std::string rollback_id;
  std::string service;
  std::string trigger;
  Time time{};
  std::vector<std::string> argv;  // exec hooks
  std::string url;                // http hooks
};

class Journal {
 public:
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Opens or creates the journal at `path` and reads it. A torn last line (a crash mid-write) is
  // ignored; any other unreadable line is an error, so that a damaged journal is never mistaken for
  // an empty one. nullptr and `error` set on failure.
  static std::unique_ptr<Journal> Open(FileSystem& fs, const std::string& path, std::string* error);

  // Intents without an outcome, oldest first.
  std::vector<JournalIntent> Unfinished() const;
  // The recorded outcome of rollback `id`, as read at Open or recorded since (compaction at Open
  // does not forget what it read). nullopt while unfinished or unknown.
  std::optional<RollbackOutcome> Outcome(const std::string& id) const;
  // True when an intent for `id` was ever recorded (finished or not): its hook must not run again.
  bool Knows(const std::string& id) const;

  // Appends and fsyncs; true once the record is on disk.
  bool RecordIntent(const JournalIntent& intent, std::string* error);
  bool RecordOutcome(const std::string& rollback_id, const RollbackOutcome& outcome, Time time,
                     std::string* error);

  const std::string& path() const { return path_; }

 private:
  Journal(std::string path, std::unique_ptr<AppendFile> file);
  bool Append(const std::string& line, std::string* error);

  std::string path_;
  std::unique_ptr<AppendFile> file_;
  std::vector<JournalIntent> unfinished_;
  std::map<std::string, RollbackOutcome> finished_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_ACTIONS_JOURNAL_H_
