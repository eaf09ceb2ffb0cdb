// Templates for the titles and texts of notifications (channel `title` and `text`): literal text
// with `{field}` placeholders naming fields of the event (docs/events.md), `{labels.NAME}` for one
// of its labels, and `{{` / `}}` for literal braces. Checked when the configuration loads, so a
// typo is an error with file and line, never an empty message at 3 a.m.
#ifndef ROLLBACKD_CONFIG_TEMPLATE_H_
#define ROLLBACKD_CONFIG_TEMPLATE_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollbackd {

// event, id, time, service, trigger, severity, value, threshold, baseline, condition, reason,
// version, skip_reason, exit_status, duration, rollback_id, labels.<name>.
bool IsTemplateField(std::string_view field);
// For error messages: the list above as one line.
std::string_view TemplateFieldList();

class Template {
 public:
  Template() = default;
  // nullopt with `error` set ("unknown field {foo}", "unclosed {", "lone }") when `text` is not
  // a valid template.
  static std::optional<Template> Parse(std::string_view text, std::string* error);

  // The text with each placeholder replaced by `lookup(field)` ("" for what the event lacks).
  std::string Render(const std::function<std::string(std::string_view field)>& lookup) const;

  bool empty() const { return parts_.empty(); }

 private:
  struct Part {
    bool field = false;
    std::string text;  // the literal, or the field's name
  };
  std::vector<Part> parts_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_CONFIG_TEMPLATE_H_
