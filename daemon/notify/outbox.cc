#include "daemon/notify/outbox.h"

#include <nlohmann/json.hpp>

#include "daemon/engine/json_int.h"

namespace rollbackd {
namespace {

using nlohmann::json;

// Compact when the file holds this much and four times what is live.
constexpr uint64_t kCompactMinBytes = 1 << 20;
constexpr uint64_t kCompactRatio = 4;

int64_t Millis(Time t) { return t.time_since_epoch().count(); }
Time FromMillis(int64_t ms) { return Time(std::chrono::milliseconds(ms)); }

std::string AddLine(const OutboxEntry& e) {
  json r = OutboxEntryToJson(e);
  r["add"] = e.seq;
  return r.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

// Calls `fn(line_start, line_end, record)` for every complete line; false with `error` on a line
// that is not a record. A last line without its newline is a write cut short: not an error.
template <typename Fn>
bool ForEachRecord(const std::string& text, const std::string& path, std::string* error, Fn fn) {
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;  // torn last line
    ++line_no;
    if (end > pos) {
      json r = json::parse(text.begin() + static_cast<std::ptrdiff_t>(pos),
                           text.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
      if (r.is_discarded() || !r.is_object() || !(r.contains("add") || r.contains("done"))) {
        *error = path + ":" + std::to_string(line_no) + ": not an outbox record";
        return false;
      }
      if (!fn(pos, end + 1, r)) {
        *error = path + ":" + std::to_string(line_no) + ": malformed outbox record";
        return false;
      }
    }
    pos = end + 1;
  }
  return true;
}

}  // namespace

json OutboxEntryToJson(const OutboxEntry& e) {
  return {{"channel", e.channel},
          {"group", e.group},
          {"id", e.id},
          {"kind", e.kind},
          {"service", e.service},
          {"created", Millis(e.created)},
          {"not_before", Millis(e.not_before)},
          {"payload", e.payload}};
}

std::optional<OutboxEntry> OutboxEntryFromJson(const json& r) {
  try {
    OutboxEntry e;
    e.channel = r.at("channel").get<std::string>();
    e.group = r.value("group", "");
    e.id = r.at("id").get<std::string>();
    e.kind = r.value("kind", "");
    e.service = r.value("service", "");
    e.created = FromMillis(JsonInt(r.at("created")));
    e.not_before = FromMillis(JsonIntOr<int64_t>(r, "not_before", 0));
    e.payload = r.at("payload").get<std::string>();
    // Every payload is an event or an alert, a JSON object the channels render from; one changed
    // from outside would throw out of a sender (alertmanager adds endsAt to it) at delivery.
    if (!json::parse(e.payload, nullptr, /*allow_exceptions=*/false).is_object()) {
      return std::nullopt;
    }
    return e;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

Outbox::Outbox(FileSystem& fs, std::string path, std::unique_ptr<AppendFile> file)
    : fs_(fs), path_(std::move(path)), file_(std::move(file)) {}

Outbox::~Outbox() = default;

std::unique_ptr<Outbox> Outbox::Open(FileSystem& fs, const std::string& path,
                                     std::string* error) {
  auto file = fs.OpenForAppend(path, 0600, error);
  if (!file) return nullptr;
  std::string text;
  if (fs.ReadFile(path, &text, error) == FileSystem::Read::kError) return nullptr;
  std::unique_ptr<Outbox> o(new Outbox(fs, path, std::move(file)));
  std::map<uint64_t, OutboxEntry> live;
  const bool ok = ForEachRecord(text, path, error, [&](size_t, size_t, const json& r) {
    try {
      if (r.contains("done")) {
        const uint64_t seq = JsonInt<uint64_t>(r.at("done"));
        live.erase(seq);
        o->next_seq_ = std::max(o->next_seq_, seq + 1);
        return true;
      }
      std::optional<OutboxEntry> parsed = OutboxEntryFromJson(r);
      if (!parsed) return false;
      OutboxEntry e = std::move(*parsed);
      e.seq = JsonInt<uint64_t>(r.at("add"));
      o->seen_at_open_.insert(e.channel + '\x1f' + e.id);
      o->next_seq_ = std::max(o->next_seq_, e.seq + 1);
      live[e.seq] = std::move(e);
      return true;
    } catch (const json::exception&) {
      return false;
    }
  });
  if (!ok) return nullptr;
  for (auto& [seq, e] : live) o->loaded_.push_back(std::move(e));
  // Rewrite with the live records only: this also drops a torn last line.
  if (!o->Compact(text, error)) return nullptr;
  return o;
}

bool Outbox::Add(std::vector<OutboxEntry>* entries, std::string* error) {
  if (entries->empty()) return true;
  std::string lines;
  std::vector<std::pair<uint64_t, uint64_t>> added;
  uint64_t seq = next_seq_;
  for (OutboxEntry& e : *entries) {
    e.seq = seq++;
    std::string line = AddLine(e);
    added.emplace_back(e.seq, line.size());
    lines += line;
  }
  next_seq_ = seq;  // never reuse a seq, written or not: the notifier keys items by it
  if (!file_->Append(lines, error)) {
    // Cut a partial write back, so that the next record starts on a line of its own.
    std::string cut_error;
    if (!file_->Truncate(file_bytes_, &cut_error)) *error += "; " + cut_error;
    return false;
  }
  file_bytes_ += lines.size();
  uint64_t offset = file_bytes_ - lines.size();
  for (const auto& [s, size] : added) {  // in the file, synced or not: "done" must follow
    live_[s] = Span{offset, size};
    offset += size;
    live_bytes_ += size;
  }
  return file_->Sync(error);
}

bool Outbox::Remove(uint64_t seq, std::string_view result, std::string* error) {
  auto it = live_.find(seq);
  if (it == live_.end()) return true;
  live_bytes_ -= it->second.size;
  live_.erase(it);
  const json r = {{"done", seq}, {"result", result}};
  const std::string line = r.dump() + "\n";
  if (!file_->Append(line, error)) {
    std::string cut_error;
    if (!file_->Truncate(file_bytes_, &cut_error)) *error += "; " + cut_error;
    return false;
  }
  file_bytes_ += line.size();
  if (file_bytes_ >= kCompactMinBytes && file_bytes_ >= kCompactRatio * live_bytes_) {
    return CompactFile(error);
  }
  return true;
}

bool Outbox::CompactFile(std::string* error) {
  // Only the live lines are read, in one pread per run of adjacent ones (the oldest leave first,
  // so they are mostly one run at the file's end).
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  for (const auto& [seq, span] : live_) {
    if (!runs.empty() && runs.back().first + runs.back().second == span.offset) {
      runs.back().second += span.size;
    } else {
      runs.emplace_back(span.offset, span.size);
    }
  }
  std::string out;
  out.reserve(live_bytes_);
  if (fs_.ReadRanges(path_, runs, &out, error) != FileSystem::Read::kOk) {
    if (error->empty()) *error = path_ + ": missing";
    return false;
  }
  if (!fs_.WriteFileAtomically(path_, out, error)) return false;
  auto file = fs_.OpenForAppend(path_, 0600, error);
  if (!file) return false;
  file_ = std::move(file);
  uint64_t offset = 0;
  for (auto& [seq, span] : live_) {
    span.offset = offset;
    offset += span.size;
  }
  file_bytes_ = out.size();
  return true;
}

bool Outbox::Compact(const std::string& text, std::string* error) {
  // Which "add" records are still live, and where their lines are.
  std::map<uint64_t, std::pair<size_t, size_t>> adds;
  const bool ok = ForEachRecord(text, path_, error, [&](size_t begin, size_t end, const json& r) {
    if (r.contains("done")) {
      adds.erase(JsonInt<uint64_t>(r["done"]));
    } else {
      adds[JsonInt<uint64_t>(r["add"])] = {begin, end};
    }
    return true;
  });
  if (!ok) return false;
  std::string out;
  live_.clear();
  live_bytes_ = 0;
  for (const auto& [seq, span] : adds) {
    live_[seq] = Span{out.size(), span.second - span.first};
    out.append(text, span.first, span.second - span.first);
    live_bytes_ += span.second - span.first;
  }
  if (!fs_.WriteFileAtomically(path_, out, error)) return false;
  auto file = fs_.OpenForAppend(path_, 0600, error);
  if (!file) return false;
  file_ = std::move(file);
  file_bytes_ = out.size();
  return true;
}

}  // namespace rollbackd
