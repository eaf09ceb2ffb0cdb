#include "daemon/runtime/state_store.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace rollbackd {
namespace {

using nlohmann::json;

constexpr size_t kDecisionLogBytes = 16 << 20;
constexpr int kDecisionLogKeep = 4;
constexpr const char* kPendingNotificationsKey = "notifications_pending";

}  // namespace

bool StateStore::Open(const std::string& dir, std::string* error) {
  dir_ = dir;
  if (!fs_.CreateDirectories(dir, error) || !fs_.CheckPrivateDirectory(dir, error)) {
    *error = "state_dir " + *error;
    return false;
  }
  // Two daemons on one state_dir would each run the hook once: refuse the second.
  lock_ = fs_.Lock(dir + "/lock", error);
  if (!lock_) {
    *error = "state_dir " + dir + ": " + *error;
    if (error->find("another rollbackd") != std::string::npos) {
      *error = "state_dir " + dir + ": another rollbackd is running with this state_dir";
    }
    return false;
  }
  journal_ = Journal::Open(fs_, dir + "/journal.jsonl", error);
  if (!journal_) return false;
  decisions_ =
      DecisionLog::Open(fs_, dir + "/decisions.jsonl", kDecisionLogBytes, kDecisionLogKeep, error);
  return decisions_ != nullptr;
}

FileSystem::Read StateStore::Load(Saved* out, std::string* error) {
  const FileSystem::Read r = fs_.ReadFile(state_path(), &out->text, error);
  if (r != FileSystem::Read::kOk) return r;
  // The last round's notifications, in case the crash came before they reached the outbox.
  const json root = json::parse(out->text, nullptr, false);
  if (root.is_object() && root.contains(kPendingNotificationsKey) &&
      root[kPendingNotificationsKey].is_array()) {
    for (const json& j : root[kPendingNotificationsKey]) {
      if (auto e = OutboxEntryFromJson(j)) out->pending.push_back(std::move(*e));
    }
  }
  return r;
}

bool StateStore::Restore(Engine& engine, std::vector<OutboxEntry>* pending, std::string* error) {
  Saved saved;
  const FileSystem::Read r = Load(&saved, error);
  if (r == FileSystem::Read::kNotFound) return true;  // first start
  if (r == FileSystem::Read::kError) return false;
  if (!engine.RestoreState(saved.text, error)) {
    *error = state_path() + ": " + *error +
             ". It is written atomically, so it was changed from outside. Move it aside to start "
             "with fresh state: cooldowns, pauses and firing episodes are then forgotten (the "
             "journal still stops an interrupted hook from rerunning)";
    return false;
  }
  spdlog::info("state restored from {}", state_path());
  *pending = std::move(saved.pending);
  return true;
}

bool StateStore::Save(const std::string& engine_state, const std::vector<OutboxEntry>& pending,
                      std::string* error) {
  std::string text = engine_state;
  try {
    if (!pending.empty()) {
      json root = json::parse(text);
      json list = json::array();
      for (const OutboxEntry& e : pending) list.push_back(OutboxEntryToJson(e));
      root[kPendingNotificationsKey] = std::move(list);
      text = root.dump(-1, ' ', false, json::error_handler_t::replace);
    }
  } catch (const std::exception& e) {  // the engine's JSON: never expected, never fatal
    *error = std::string("serializing engine state: ") + e.what();
    return false;
  }
  return fs_.WriteFileAtomically(state_path(), text, error);
}

}  // namespace rollbackd
