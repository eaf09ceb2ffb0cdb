// The daemon's state_dir: the lock that keeps a second daemon off it, state.json (the engine's
// state, with the round's notifications beside it between decision and outbox), the rollback
// journal and the decision log. Everything goes through a FileSystem, so tests can fail any write
// or keep only what was durable.
//
// Not thread-safe; the daemon's loop owns it.
#ifndef ROLLBACKD_RUNTIME_STATE_STORE_H_
#define ROLLBACKD_RUNTIME_STATE_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/actions/decision_log.h"
#include "daemon/actions/journal.h"
#include "daemon/engine/engine.h"
#include "daemon/io/file_system.h"
#include "daemon/notify/outbox.h"

namespace rollbackd {

class StateStore {
 public:
  explicit StateStore(FileSystem& fs) : fs_(fs) {}

  // Creates `dir`, takes its lock, opens the journal and the decision log. False and `error`.
  bool Open(const std::string& dir, std::string* error);

  // state.json as saved: kNotFound at the first start. `text` is the engine's part as
  // Engine::SaveState wrote it plus, under "notifications_pending", `pending`.
  struct Saved {
    std::string text;
    std::vector<OutboxEntry> pending;
  };
  FileSystem::Read Load(Saved* out, std::string* error);

  // Restores `engine` from state.json and hands back the notifications saved beside it. True at
  // the first start (no file); false, with the reason and what to do, when it cannot be read.
  bool Restore(Engine& engine, std::vector<OutboxEntry>* pending, std::string* error);

  // Replaces state.json with `engine_state` and `pending` (a round's notifications) beside it.
  bool Save(const std::string& engine_state, const std::vector<OutboxEntry>& pending,
            std::string* error);

  Journal& journal() { return *journal_; }
  DecisionLog& decisions() { return *decisions_; }
  const std::string& dir() const { return dir_; }
  std::string state_path() const { return dir_ + "/state.json"; }
  FileSystem& fs() { return fs_; }

 private:
  FileSystem& fs_;
  std::string dir_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<DecisionLog> decisions_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_STATE_STORE_H_
