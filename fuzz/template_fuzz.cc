// Notification templates (daemon/config/template.h) and what the channels render from an event
// (daemon/notify/render.h). Input: a title template, a text template and an event payload (JSON,
// as the outbox keeps it on disk, so any bytes), cut at the part separator (fuzz_util.h).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "daemon/config/template.h"
#include "daemon/notify/render.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rollbackd;
  const auto parts = fuzz::SplitInput(data, size, 3);
  ChannelTemplates templates;
  std::string error;
  for (int i = 0; i < 2; ++i) {
    error.clear();
    auto t = Template::Parse(parts[i], &error);
    if (!t) {
      if (error.empty()) fuzz::Fail("a template refused without a reason");
      continue;
    }
    (i == 0 ? templates.title : templates.text) = std::move(*t);
  }
  const nlohmann::json event = nlohmann::json::parse(parts[2], nullptr, /*allow_exceptions=*/false);
  if (event.is_discarded()) return 0;
  const auto lookup = [&](std::string_view field) { return EventField(event, field); };
  (void)templates.title.Render(lookup);
  (void)templates.text.Render(lookup);
  nlohmann::json alert = AlertFor(event, templates, "rolled back", "http://127.0.0.1:9464");
  (void)AlertmanagerBody({&alert}, Time(std::chrono::hours(1)), std::chrono::minutes(5));
  (void)SlackBody({&event, &event}, templates, "http://127.0.0.1:9464");
  (void)SlackBody({&event}, templates, "");
  return 0;
}
