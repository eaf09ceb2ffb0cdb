#include "daemon/config/template.h"

#include <algorithm>
#include <array>

namespace rollbackd {
namespace {

constexpr std::array<std::string_view, 16> kFields = {
    "event",     "id",     "time",    "service",     "trigger",     "severity",
    "value",     "threshold", "baseline", "condition", "reason",    "version",
    "skip_reason", "exit_status", "duration", "rollback_id"};

bool IsLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool IsTemplateField(std::string_view field) {
  constexpr std::string_view kLabels = "labels.";
  if (field.substr(0, kLabels.size()) == kLabels) return IsLabelName(field.substr(kLabels.size()));
  return std::find(kFields.begin(), kFields.end(), field) != kFields.end();
}

std::string_view TemplateFieldList() {
  return "event, id, time, service, trigger, severity, value, threshold, baseline, condition, "
         "reason, version, skip_reason, exit_status, duration, rollback_id, labels.<name>";
}

std::optional<Template> Template::Parse(std::string_view text, std::string* error) {
  Template t;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) t.parts_.push_back({false, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      *error = "lone } at offset " + std::to_string(i) + " (write }} for a literal brace)";
      return std::nullopt;
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    const size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      *error = "unclosed { at offset " + std::to_string(i);
      return std::nullopt;
    }
    const std::string_view field = text.substr(i + 1, close - i - 1);
    if (!IsTemplateField(field)) {
      *error = "unknown field {" + std::string(field) + "} (known: " +
               std::string(TemplateFieldList()) + ")";
      return std::nullopt;
    }
    flush();
    t.parts_.push_back({true, std::string(field)});
    i = close;
  }
  flush();
  return t;
}

std::string Template::Render(
    const std::function<std::string(std::string_view field)>& lookup) const {
  std::string out;
  for (const Part& p : parts_) out += p.field ? lookup(p.text) : p.text;
  return out;
}

}  // namespace rollbackd
