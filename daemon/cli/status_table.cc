#include "daemon/cli/status_table.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "daemon/config/text.h"

// The status document is small, read whole and, for --json, written back out: nlohmann's tree does
// both, as it does for the daemon's other documents (request bodies, state.json). simdjson's
// on-demand reader is for Prometheus's large answers and cannot write.
namespace rollbackd {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using SysMs = std::chrono::sys_time<milliseconds>;

constexpr const char* kRed = "\x1b[1;31m";
constexpr const char* kYellow = "\x1b[33m";
constexpr const char* kReset = "\x1b[0m";

std::string Clean(std::string_view s) { return CleanForTerminal(s); }

// Columns are aligned on what a terminal shows: UTF-8 code points, not bytes.
size_t Width(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80 ? 1 : 0;
  return n;
}

std::string Str(const json& j, const char* key, const char* absent = "-") {
  if (!j.is_object()) return absent;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return absent;
  return Clean(it->get<std::string>());
}

// Non-finite values reach the document as null ("-"); a number the daemon never sends is shown
// as what it is rather than dropped.
std::string Num(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  if (it->is_number()) return ShortestNumber(it->get<double>());
  return Clean(it->dump());
}

bool Flag(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

const json& Array(const json& j, const char* key) {
  static const json kEmpty = json::array();
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

// "2026-11-21T22:08:16.234Z" (what FormatTime writes); nullopt for anything else.
std::optional<SysMs> ParseUtc(const std::string& s) {
  int y, mo, d, h, mi, sec, ms = 0;
  char z = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &sec, &ms,
                  &z) != 8 &&
      std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z) != 7) {
    return std::nullopt;
  }
  if (z != 'Z') return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(mo),
                                         std::chrono::day(d)};
  if (!date.ok()) return std::nullopt;
  return SysMs(std::chrono::sys_days(date)) + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(sec) + milliseconds(ms);
}

std::string ClockText(SysMs t, SysMs now) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::hh_mm_ss hms(std::chrono::floor<std::chrono::seconds>(t - day));
  char buf[48];
  if (day == std::chrono::floor<std::chrono::days>(now)) {
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02dZ", static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  } else {
    const std::chrono::year_month_day ymd(day);
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()));
  }
  return buf;
}

// "4m12s (18:02:11Z)"; the raw text when the daemon sent a time this does not read.
std::string Since(const json& at, SysMs now) {
  if (!at.is_string()) return "-";
  const std::string text = at.get<std::string>();
  const std::optional<SysMs> t = ParseUtc(text);
  if (!t) return Clean(text);
  return FormatAge(now - *t) + " (" + ClockText(*t, now) + ")";
}

std::string Labels(const json& labels) {
  if (!labels.is_object() || labels.empty()) return "";
  std::string out = "{";
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    if (out.size() > 1) out += ",";
    out += Clean(it.key()) + "=\"" + Clean(it->is_string() ? it->get<std::string>() : it->dump()) +
           "\"";
  }
  return out + "}";
}

using Row = std::vector<std::string>;  // the seven cells, as shown (cleaned, uncoloured)

void AddRows(const json& service, SysMs now, std::vector<Row>* rows) {
  const std::string name = Str(service, "name");
  const std::string version = Str(service, "version");
  const json& rules = Array(service, "triggers");
  if (rules.empty()) rows->push_back({name, version, "-", "-", "-", "-", "-"});
  for (const json& rule : rules) {
    if (!rule.is_object()) continue;
    std::string rule_name = Str(rule, "name");
    if (Str(rule, "kind", "") == "health") rule_name += " (health)";
    const json& series = Array(rule, "series");
    if (series.empty()) {
      rows->push_back({name, version, rule_name, Str(rule, "state"), "-", "-", "-"});
    }
    for (const json& x : series) {
      if (!x.is_object()) continue;
      const std::string state = Str(x, "state");
      const char* since_key = state == "firing" ? "firing_since" : "pending_since";
      const json& since = state == "firing" || state == "pending"
                              ? x.value(since_key, json(nullptr))
                              : json(nullptr);
      rows->push_back({name, version, rule_name + Labels(x.value("labels", json::object())), state,
                       Num(x, "value"), Num(x, "threshold"), Since(since, now)});
    }
  }
}

std::string Table(const std::vector<Row>& rows, bool color) {
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const Row& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], Width(r[i]));
  }
  std::string out;
  for (size_t n = 0; n < rows.size(); ++n) {
    const Row& r = rows[n];
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      const bool last = i + 1 == r.size();
      const char* paint = nullptr;
      if (color && n > 0 && i == 3)
        paint = r[i] == "firing" ? kRed : r[i] == "pending" ? kYellow : nullptr;
      line += paint ? paint + r[i] + kReset : r[i];
      if (!last) line += std::string(widths[i] - Width(r[i]) + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string Names(const std::vector<std::string>& names) { return Join(names); }

std::string StringList(const json& j) {
  std::vector<std::string> items;
  if (j.is_array()) {
    for (const json& x : j)
      items.push_back(x.is_string() ? Clean(x.get<std::string>()) : Clean(x.dump()));
  }
  return items.empty() ? "none" : Names(items);
}

// What the table cannot say per row, one line each, only when there is something to say.
std::string Notes(const json& doc, SysMs now, bool color) {
  std::vector<std::string> notes;
  const auto paint = [&](const char* c, const std::string& s) {
    return color ? c + s + kReset : s;
  };
  if (doc.contains("ready") && !Flag(doc, "ready")) {
    notes.push_back("not ready: the first evaluation round is not done yet");
  }
  if (Flag(doc, "dry_run")) notes.push_back("dry run: no rollback hook runs ([daemon].dry_run)");
  std::vector<std::string> paused, dry, in_flight, errors, elsewhere;
  for (const json& s : Array(doc, "services")) {
    if (!s.is_object()) continue;
    const std::string name = Str(s, "name");
    if (Flag(s, "paused")) paused.push_back(name);
    if (Flag(s, "dry_run") && !Flag(doc, "dry_run")) dry.push_back(name);
    if (s.contains("rollback_in_flight") && s["rollback_in_flight"].is_string()) {
      in_flight.push_back(name + " (id " + Str(s, "rollback_in_flight") + ")");
    }
    if (s.contains("evaluated_here") && !Flag(s, "evaluated_here")) {
      elsewhere.push_back(name + " (owner " + Str(s, "owner", "none") + ")");
    }
    for (const json& rule : Array(s, "triggers")) {
      if (rule.is_object() && rule.contains("last_error") && rule["last_error"].is_string()) {
        errors.push_back(name + "/" + Str(rule, "name") + ": " + Str(rule, "last_error"));
      }
    }
  }
  if (!paused.empty()) {
    notes.push_back(paint(kYellow, "paused") + ": " + Names(paused) +
                    " (automatic rollbacks skipped; `rollbackd resume SERVICE` undoes)");
  }
  if (!dry.empty()) notes.push_back("dry run: " + Names(dry));
  if (!in_flight.empty()) {
    notes.push_back(paint(kYellow, "rollback in flight") + ": " + Names(in_flight));
  }
  if (doc.contains("brake") && doc["brake"].is_object()) {
    const json& b = doc["brake"];
    const std::string limit =
        "at most " + Num(b, "max_rollbacks") + " rollbacks in " +
        FormatAge(milliseconds(static_cast<int64_t>(b.value("window_seconds", 0.0) * 1000)));
    if (!Flag(b, "engaged")) notes.push_back("brake: not engaged (" + limit + ")");
    for (const json& g : Array(b, "groups")) {
      if (!g.is_object() || !Flag(g, "engaged")) continue;
      const std::string group = Str(g, "group", "");
      notes.push_back(paint(kRed, "brake engaged") + (group.empty() ? "" : " [" + group + "]") +
                      " for " + Since(g.value("since", json(nullptr)), now) + ", " + limit +
                      ": rolled back " + StringList(g.value("rolled_back", json())) + "; holding " +
                      StringList(g.value("held", json())) +
                      " (POST /api/v1/brake/release lets go)");
    }
  }
  for (const std::string& e : errors) notes.push_back(paint(kYellow, "input error") + " " + e);
  if (doc.contains("cluster") && doc["cluster"].is_object()) {
    const json& c = doc["cluster"];
    const json lease = c.value("lease", json::object());
    notes.push_back("cluster " + Str(c, "name") + ": members " +
                    StringList(c.value("members", json())) +
                    (Flag(c, "healthy") ? "" : ", not healthy") +
                    (Flag(lease, "live") ? "" : ", " + paint(kRed, "lease not live")));
    if (!elsewhere.empty()) {
      notes.push_back("not evaluated here (only the owner's view is current): " + Names(elsewhere));
    }
  }
  std::string out;
  for (const std::string& n : notes) out += n + "\n";
  return out;
}

bool Parse(std::string_view document, json* doc, std::string* error) {
  *doc = json::parse(document, nullptr, false);
  if (doc->is_discarded() || !doc->is_object() || !doc->contains("services") ||
      !(*doc)["services"].is_array()) {
    *error = "the daemon's answer is not a status document (no \"services\" list)";
    return false;
  }
  return true;
}

}  // namespace

// Control characters (C0, DEL and the C1 range, which some terminals act on) become \xNN;
// everything else, markup included, stays as it is.
std::string CleanForTerminal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool c1 = c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(s[i + 1]) <= 0x9f;
    if (c < 0x20 || c == 0x7f || c1) {
      const unsigned code = c1 ? static_cast<unsigned char>(s[++i]) : c;
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", code);
      out += buf;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string FormatAge(milliseconds age) {
  const int64_t s = std::max<int64_t>(0, age.count() / 1000);
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

bool RenderStatusTable(std::string_view document, const StatusTableOptions& options,
                       std::string* out, std::string* error) {
  json doc;
  if (!Parse(document, &doc, error)) return false;
  const SysMs now = std::chrono::floor<milliseconds>(options.now);
  std::vector<Row> rows = {
      {"SERVICE", "VERSION", "TRIGGER", "STATE", "VALUE", "THRESHOLD", "SINCE"}};
  for (const json& s : doc["services"]) {
    if (s.is_object()) AddRows(s, now, &rows);
  }
  *out = Table(rows, options.color);
  if (rows.size() == 1) *out += "(no services)\n";
  const std::string notes = Notes(doc, now, options.color);
  if (!notes.empty()) *out += "\n" + notes;
  return true;
}

FilterResult FilterStatus(std::string_view document, const std::string& service, std::string* out,
                          std::string* error) {
  json doc;
  if (!Parse(document, &doc, error)) return FilterResult::kBadDocument;
  if (!service.empty()) {
    json kept = json::array();
    std::vector<std::string> known;
    for (const json& s : doc["services"]) {
      const std::string name = s.is_object() ? s.value("name", "") : "";
      if (name == service) kept.push_back(s);
      known.push_back(Clean(name));
    }
    if (kept.empty()) {
      *error = "the daemon has no service " + Clean(service) +
               " (it has: " + (known.empty() ? std::string("none") : Join(known)) + ")";
      return FilterResult::kUnknownService;
    }
    doc["services"] = std::move(kept);
  }
  *out = doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  return FilterResult::kOk;
}

}  // namespace rollbackd
