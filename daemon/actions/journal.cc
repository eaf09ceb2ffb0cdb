#include "daemon/actions/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "daemon/engine/json_int.h"
#include "daemon/io/fd_io.h"
#include "daemon/io/file_system.h"

namespace rollbackd {
namespace {

using nlohmann::json;

std::string IntentLine(const JournalIntent& intent) {
  json r = {{"type", "intent"},
            {"rollback_id", intent.rollback_id},
            {"service", intent.service},
            {"trigger", intent.trigger},
            {"time", intent.time.time_since_epoch().count()},
            {"argv", intent.argv},
            {"url", intent.url}};
  return r.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Journal::Journal(std::string path, std::unique_ptr<AppendFile> file)
    : path_(std::move(path)), file_(std::move(file)) {}

Journal::~Journal() = default;

std::unique_ptr<Journal> Journal::Open(FileSystem& fs, const std::string& path,
                                       std::string* error) {
  auto file = fs.OpenForAppend(path, 0600, error);
  if (!file) return nullptr;
  std::string text;
  if (fs.ReadFile(path, &text, error) == FileSystem::Read::kError) return nullptr;
  std::unique_ptr<Journal> j(new Journal(path, std::move(file)));
  // The most recent finished rollbacks survive a compaction: a restart must still find the outcome
  // of a rollback the saved state has in flight, even if another crash follows the compaction.
  std::map<std::string, std::string> intent_lines;
  std::deque<std::string> recent_finished;
  size_t line_no = 0;
  size_t pos = 0;
  size_t good_end = 0;  // end of the last complete record
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const bool last = end == std::string::npos;
    std::string line = text.substr(pos, last ? std::string::npos : end - pos);
    pos = last ? text.size() : end + 1;
    ++line_no;
    if (line.empty()) {
      if (!last) good_end = pos;
      continue;
    }
    try {
      json r = json::parse(line);
      const std::string type = r.at("type").get<std::string>();
      const std::string id = r.at("rollback_id").get<std::string>();
      if (type == "intent") {
        JournalIntent in;
        in.rollback_id = id;
        in.service = r.at("service").get<std::string>();
        in.trigger = r.value("trigger", "");
        in.time = Time(std::chrono::milliseconds(JsonInt(r.at("time"))));
        in.argv = r.value("argv", std::vector<std::string>{});
        in.url = r.value("url", "");
        j->unfinished_.push_back(std::move(in));
        intent_lines[id] = line;
      } else if (type == "outcome") {
        RollbackOutcome o;
        o.success = r.at("success").get<bool>();
        if (r.contains("exit_status") && r["exit_status"].is_number_integer()) {
          // One field on disk for both (the format predates the split): an http hook's intent
          // has its url, an exec hook's its argv.
          const bool http = std::any_of(
              j->unfinished_.begin(), j->unfinished_.end(),
              [&](const JournalIntent& in) { return in.rollback_id == id && !in.url.empty(); });
          (http ? o.http_status : o.exit_code) = JsonInt<int>(r["exit_status"]);
        }
        o.duration = Duration(JsonIntOr<int64_t>(r, "duration_ms", 0));
        o.error = r.value("error", "");
        std::erase_if(j->unfinished_,
                      [&](const JournalIntent& in) { return in.rollback_id == id; });
        j->finished_[id] = std::move(o);
        if (auto it = intent_lines.find(id); it != intent_lines.end()) {
          recent_finished.push_back(it->second + "\n" + line + "\n");
          intent_lines.erase(it);
          if (recent_finished.size() > kJournalKeepFinished) recent_finished.pop_front();
        }
      } else {
        throw std::runtime_error("unknown record type \"" + type + "\"");
      }
      good_end = pos;  // complete, even if its newline is missing (added below)
    } catch (const std::exception& e) {
      if (last) break;  // torn final write: the record never completed
      *error = path + ":" + std::to_string(line_no) + ": unreadable journal record: " + e.what();
      return nullptr;
    }
  }
  // Cut a torn tail (and a complete record without its newline) so the next append starts clean.
  if (good_end < text.size() && !j->file_->Truncate(good_end, error)) return nullptr;
  if (good_end > 0 && good_end == text.size() && text.back() != '\n' &&
      !j->file_->Append("\n", error)) {
    return nullptr;
  }
  if (text.size() > kJournalCompactBytes) {
    // Older finished rollbacks are history (the decision log keeps it).
    std::string kept;
    for (const std::string& record : recent_finished) kept += record;
    for (const JournalIntent& in : j->unfinished_) kept += IntentLine(in) + "\n";
    if (!fs.WriteFileAtomically(path, kept, error)) return nullptr;
    j->file_ = fs.OpenForAppend(path, 0600, error);
    if (!j->file_) return nullptr;
  }
  return j;
}

std::vector<JournalIntent> Journal::Unfinished() const { return unfinished_; }

bool Journal::Append(const std::string& line, std::string* error) {
  // A partial write (disk full) is cut off again, so that it cannot sit in the middle of the
  // journal once later appends succeed: Open treats a damaged middle record as fatal.
  const uint64_t size = file_->Size();
  if (!file_->Append(line + "\n", error)) {
    std::string cut_error;
    if (!file_->Truncate(size, &cut_error)) *error += "; " + cut_error;
    return false;
  }
  return file_->Sync(error);
}

bool Journal::RecordIntent(const JournalIntent& intent, std::string* error) {
  if (!Append(IntentLine(intent), error)) return false;
  unfinished_.push_back(intent);
  return true;
}

bool Journal::RecordOutcome(const std::string& rollback_id, const RollbackOutcome& outcome,
                            Time time, std::string* error) {
  json r = {{"type", "outcome"},
            {"rollback_id", rollback_id},
            {"time", time.time_since_epoch().count()},
            {"success", outcome.success},
            {"exit_status", outcome.exit_status() ? json(*outcome.exit_status()) : json(nullptr)},
            {"duration_ms", outcome.duration.count()},
            {"error", outcome.error}};
  if (!Append(r.dump(-1, ' ', false, json::error_handler_t::replace), error)) return false;
  std::erase_if(unfinished_,
                [&](const JournalIntent& in) { return in.rollback_id == rollback_id; });
  finished_[rollback_id] = outcome;
  return true;
}

std::optional<RollbackOutcome> Journal::Outcome(const std::string& id) const {
  auto it = finished_.find(id);
  if (it == finished_.end()) return std::nullopt;
  return it->second;
}

bool Journal::Knows(const std::string& id) const {
  if (finished_.contains(id)) return true;
  return std::any_of(unfinished_.begin(), unfinished_.end(),
                     [&](const JournalIntent& in) { return in.rollback_id == id; });
}

}  // namespace rollbackd
