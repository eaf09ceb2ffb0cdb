// Notification templates (channel `title` and `text`): which placeholders parse, what they render
// to, and the error for each way a template can be wrong.
#include "daemon/config/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace rollbackd {
namespace {

using ::testing::HasSubstr;

// Renders `text` with fields from `values` ("" for a field not in it); the parse must succeed.
std::string Render(std::string_view text, const std::map<std::string, std::string>& values) {
  std::string error;
  std::optional<Template> t = Template::Parse(text, &error);
  EXPECT_TRUE(t.has_value()) << text << ": " << error;
  if (!t) return "<invalid>";
  return t->Render([&](std::string_view field) {
    auto it = values.find(std::string(field));
    return it == values.end() ? std::string() : it->second;
  });
}

// The error Parse reports for `text`; "" when it parses.
std::string ErrorOf(std::string_view text) {
  std::string error;
  if (Template::Parse(text, &error)) return "";
  EXPECT_FALSE(error.empty()) << text;
  return error;
}

TEST(TemplateTest, EveryDocumentedFieldIsAField) {
  for (std::string_view f :
       {"event", "id", "time", "service", "trigger", "severity", "value", "threshold", "baseline",
        "condition", "reason", "version", "skip_reason", "exit_status", "duration", "rollback_id",
        "labels.pod", "labels._x", "labels.Region2"}) {
    EXPECT_TRUE(IsTemplateField(f)) << f;
  }
  for (std::string_view f : {"", "foo", "labels", "labels.", "labels.9x", "labels.a-b",
                             "labels.a.b", "Service", " service", "output", "hook"}) {
    EXPECT_FALSE(IsTemplateField(f)) << f;
  }
}

TEST(TemplateTest, FieldListNamesEveryField) {
  const std::string list(TemplateFieldList());
  for (std::string_view f :
       {"event", "id", "time", "service", "trigger", "severity", "value", "threshold", "baseline",
        "condition", "reason", "version", "skip_reason", "exit_status", "duration", "rollback_id",
        "labels.<name>"}) {
    EXPECT_THAT(list, HasSubstr(std::string(f)));
  }
}

TEST(TemplateTest, FieldsAreReplacedAndLiteralsKept) {
  const std::map<std::string, std::string> values = {{"service", "checkout"},
                                                     {"event", "rollback.started"},
                                                     {"severity", "critical"},
                                                     {"labels.env", "prod"}};
  EXPECT_EQ(Render("{service}: {event} ({severity}, {labels.env})", values),
            "checkout: rollback.started (critical, prod)");
  EXPECT_EQ(Render("plain text", values), "plain text");
  EXPECT_EQ(Render("{service}{service}", values), "checkoutcheckout");
}

TEST(TemplateTest, WhatTheEventLacksRendersEmpty) {
  EXPECT_EQ(Render("[{version}] {labels.pod}.", {}), "[] .");
}

TEST(TemplateTest, DoubledBracesAreLiteralBraces) {
  EXPECT_EQ(Render("{{service}}", {{"service", "checkout"}}), "{service}");
  EXPECT_EQ(Render("{{{service}}}", {{"service", "checkout"}}), "{checkout}");
  EXPECT_EQ(Render("json: {{\"a\": 1}}", {}), "json: {\"a\": 1}");
}

TEST(TemplateTest, EmptyTemplateIsEmpty) {
  std::string error;
  auto t = Template::Parse("", &error);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->empty());
  auto u = Template::Parse("x", &error);
  ASSERT_TRUE(u.has_value());
  EXPECT_FALSE(u->empty());
}

TEST(TemplateTest, UnknownFieldNamesItAndTheKnownOnes) {
  EXPECT_EQ(ErrorOf("{servce} is down"),
            "unknown field {servce} (known: " + std::string(TemplateFieldList()) + ")");
  EXPECT_THAT(ErrorOf("{}"), HasSubstr("unknown field {}"));
  EXPECT_THAT(ErrorOf("{labels.}"), HasSubstr("unknown field {labels.}"));
  EXPECT_THAT(ErrorOf("{ service }"), HasSubstr("unknown field { service }"));
}

TEST(TemplateTest, UnclosedAndLoneBracesGiveTheirOffset) {
  EXPECT_EQ(ErrorOf("abc {service"), "unclosed { at offset 4");
  EXPECT_EQ(ErrorOf("a } b"), "lone } at offset 2 (write }} for a literal brace)");
  EXPECT_EQ(ErrorOf("{service}}"), "lone } at offset 9 (write }} for a literal brace)");
  EXPECT_EQ(ErrorOf("{"), "unclosed { at offset 0");
}

}  // namespace
}  // namespace rollbackd
