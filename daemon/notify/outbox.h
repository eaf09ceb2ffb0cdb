// The outbox: notifications waiting for their receivers, kept in state_dir/outbox.jsonl so that a
// restart (or a kill -9, or a power loss) loses none of them.
//
// An append-only file of JSON lines: `{"add": seq, ...}` when a notification is queued, written and
// fdatasync'd before its first attempt; `{"done": seq, "result": ...}` when it left the outbox
// (delivered, rejected, expired, dropped), written without a sync: losing a "done" record to a
// crash only means one more delivery of the same notification, with the same id, which receivers
// deduplicate. At Open, and whenever the file has grown to several times what is still live, it is
// rewritten with the live records only (temp file, fsync, rename); while running, only those
// records are read back (their places are known), so a compaction holds at most max_bytes.
//
// Not thread-safe; the daemon's loop owns it.
#ifndef ROLLBACKD_NOTIFY_OUTBOX_H_
#define ROLLBACKD_NOTIFY_OUTBOX_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "daemon/engine/samples.h"
#include "daemon/io/file_system.h"

namespace rollbackd {

struct OutboxEntry {
  uint64_t seq = 0;      // assigned by Add; increasing in the order of queueing
  std::string channel;   // the channel's name
  std::string group;     // entries of one group may go out in one request (slack, alertmanager)
  std::string id;        // the notification's id: webhook-id, the same on every attempt
  std::string kind;      // the event kind ("trigger.firing"), for logs
  std::string service;   // for logs
  Time created{};        // when it was queued; max_age counts from here
  Time not_before{};     // group_wait: no attempt before this
  std::string payload;   // what the channel renders its request from (JSON)

  size_t bytes() const { return payload.size() + id.size() + channel.size() + group.size() + 64; }
};

// An entry as a JSON object (the outbox file's "add" record, without "add") and back; nullopt
// when `j` is not one (a field missing or of the wrong type, a payload that is not a JSON object).
// Also how the daemon's state file carries a round's notifications.
nlohmann::json OutboxEntryToJson(const OutboxEntry& e);
std::optional<OutboxEntry> OutboxEntryFromJson(const nlohmann::json& j);

class Outbox {
 public:
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Opens or creates `path` and reads what is live in it, compacting it. A torn last line (a
  // crash mid-write) is ignored; any other unreadable line is an error, so that a damaged outbox
  // is never mistaken for an empty one. nullptr and `error` set on failure.
  static std::unique_ptr<Outbox> Open(FileSystem& fs, const std::string& path, std::string* error);

  // The live entries read at Open, in seq order.
  std::vector<OutboxEntry> TakeLoaded() { return std::move(loaded_); }

  // Assigns each entry its seq, appends them all with one write and one fdatasync. On failure
  // nothing is live (a partial write is cut back) and `error` says why.
  bool Add(std::vector<OutboxEntry>* entries, std::string* error);

  // Records that `seq` left the outbox; `result` is a word for people ("delivered", "expired").
  // A write error is logged by the caller: at worst the notification is sent once more later.
  bool Remove(uint64_t seq, std::string_view result, std::string* error);

  // True when the file held (at Open) a notification with this channel and id, delivered or not.
  bool SeenAtOpen(const std::string& channel, const std::string& id) const {
    return seen_at_open_.count(channel + '\x1f' + id) != 0;
  }

  size_t live() const { return live_.size(); }
  uint64_t live_bytes() const { return live_bytes_; }
  uint64_t file_bytes() const { return file_bytes_; }
  const std::string& path() const { return path_; }

 private:
  Outbox(FileSystem& fs, std::string path, std::unique_ptr<AppendFile> file);
  bool Compact(const std::string& text, std::string* error);
  bool CompactFile(std::string* error);

  FileSystem& fs_;
  std::string path_;
  std::unique_ptr<AppendFile> file_;
  uint64_t next_seq_ = 1;
  struct Span {
    uint64_t offset = 0;  // of its "add" line in the file
    uint64_t size = 0;
  };
  std::map<uint64_t, Span> live_;  // seq -> where its "add" line is
  uint64_t live_bytes_ = 0;
  uint64_t file_bytes_ = 0;
  std::vector<OutboxEntry> loaded_;
  std::set<std::string> seen_at_open_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_NOTIFY_OUTBOX_H_
