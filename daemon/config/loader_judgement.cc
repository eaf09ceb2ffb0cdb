// Judgement beyond one threshold: a trigger's `escalate`, its steps of stronger bounds and shorter
// holds (docs/rules.md, "Escalation"), and the fleet brake (`brake`, "The fleet brake").
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/loader_internal.h"
#include "daemon/config/text.h"

namespace rollbackd::config_internal {

namespace {

// Whether `a` is a stronger bound than `b` for `kind`: one that fewer values breach. For the
// above kinds and below_delta a larger number (below_delta = 5: current < baseline - 5); for below
// and below_ratio a smaller one.
bool Stronger(ConditionKind kind, double a, double b) {
  switch (kind) {
    case ConditionKind::kBelow:
    case ConditionKind::kBelowRatio:
      return a < b;
    default:
      return a > b;
  }
}

std::string_view StrongerWord(ConditionKind kind) {
  return kind == ConditionKind::kBelow || kind == ConditionKind::kBelowRatio ? "smaller" : "larger";
}

}  // namespace

std::vector<EscalationStep> ParseEscalate(TableReader& r, const Trigger& t,
                                          std::string_view condition_key) {
  std::vector<EscalationStep> steps;
  if (!r.Has("escalate")) return steps;
  const toml::array* arr =
      r.Array("escalate", "an array of steps such as [ { above = 0.2, for = \"5s\" } ]");
  if (arr == nullptr) return steps;
  if (condition_key.empty()) {
    r.Error("escalate", "escalation steps strengthen the trigger's condition; set one first");
    return steps;
  }
  if (arr->size() > kMaxEscalationSteps) {
    r.Error("escalate", "at most " + std::to_string(kMaxEscalationSteps) + " steps, found " +
                            std::to_string(arr->size()));
    return steps;
  }
  // The bound and hold each step must beat: the trigger's, then the previous step's.
  double bound = t.threshold;
  Duration hold = t.for_duration;
  std::string beaten = "the trigger's";
  for (size_t i = 0; i < arr->size(); ++i) {
    const std::string path = r.KeyPath("escalate[" + std::to_string(i) + "]");
    const toml::node& n = *arr->get(i);
    const toml::table* table = n.as_table();
    if (table == nullptr) {
      r.diags()->Error(
          LocationOf(n.source(), r.file()), path,
          "expected a table such as { " + std::string(condition_key) + " = 0.2, for = \"5s\" }");
      continue;
    }
    TableReader sr(*table, path, r.file(), r.diags());
    EscalationStep step;
    step.where = sr.Where();
    // Another condition key gets its own message: a step cannot change what is compared.
    for (std::string_view key : kConditionKeys) {
      if (key != condition_key && sr.Has(key)) {
        sr.Error(key, "a step strengthens the trigger's condition `" + std::string(condition_key) +
                          "`; use `" + std::string(condition_key) + "` here too");
        sr.Skip(key);
      }
    }
    auto number = sr.Number(condition_key, true);
    auto d = PositiveDuration(sr, "for", true, /*allow_zero=*/true);
    if (auto s = ReadSeverity(sr, "severity")) step.severity = *s;
    sr.Finish();
    if (!number || !d) continue;
    step.threshold = *number;
    step.for_duration = *d;
    if (!Stronger(t.condition, step.threshold, bound)) {
      sr.Error(condition_key,
               "a step needs a stronger bound: " + std::string(StrongerWord(t.condition)) +
                   " than " + beaten + " " + std::string(condition_key) + " = " + ShortestNumber(bound));
    } else if (t.condition == ConditionKind::kBelowRatio && step.threshold <= 0) {
      sr.Error(condition_key, "a ratio must be greater than 0");
    }
    if (step.for_duration >= hold) {
      sr.Error("for", "a step needs a shorter hold than " + beaten +
                          " for = " + FormatDuration(hold) + " (a larger breach acts sooner)");
    }
    bound = step.threshold;
    hold = step.for_duration;
    beaten = "escalate[" + std::to_string(i) + "]'s";
    steps.push_back(step);
  }
  return steps;
}

std::optional<CompareSpec> ParseCompare(TableReader& r) {
  const toml::table* t = r.Table("compare");
  if (t == nullptr) return std::nullopt;
  TableReader cr(*t, r.KeyPath("compare"), r.file(), r.diags());
  const int errors = r.diags()->error_count();
  CompareSpec c;
  c.where = r.Where("compare");
  if (auto test = cr.String("test", true); test && *test != "mann_whitney") {
    cr.Error("test", "unknown test " + Quote(*test) + " (mann_whitney)");
  }
  if (auto d = PositiveDuration(cr, "window", true)) c.window = *d;
  if (auto d = cr.String("direction")) {
    if (*d == "increase") {
      c.direction = CompareSpec::Direction::kIncrease;
    } else if (*d == "decrease") {
      c.direction = CompareSpec::Direction::kDecrease;
    } else if (*d == "either") {
      c.direction = CompareSpec::Direction::kEither;
    } else {
      cr.Error("direction", "unknown direction " + Quote(*d) + " (increase, decrease or either)");
    }
  }
  if (auto v = cr.Number("confidence", true)) {
    if (!(*v > 0.5 && *v < 1)) {
      cr.Error("confidence",
               "expected a probability between 0.5 and 1, such as 0.98 (a breach "
               "needs p < 1 - confidence)");
    } else {
      c.confidence = *v;
    }
  }
  if (auto v = cr.Number("min_effect", true)) {
    if (!(*v >= 1)) {
      cr.Error("min_effect",
               "expected a ratio of at least 1, such as 1.2 (the canary's median "
               "1.2 x the baseline's, or 1/1.2 of it for a decrease)");
    } else {
      c.min_effect = *v;
    }
  }
  if (auto n = cr.Integer("min_samples")) {
    if (*n < 5 || *n > kMaxCompareSamples) {
      cr.Error("min_samples", "expected a whole number from 5 to " +
                                  std::to_string(kMaxCompareSamples) +
                                  " (fewer samples cannot show a significant shift)");
    } else {
      c.min_samples = static_cast<int>(*n);
    }
  }
  cr.Finish();
  if (r.diags()->error_count() > errors) return std::nullopt;
  return c;
}

std::optional<BrakeSettings> ParseBrake(TableReader& r, std::string_view key) {
  const toml::table* t = r.Table(key);
  if (t == nullptr) return std::nullopt;
  TableReader br(*t, r.KeyPath(key), r.file(), r.diags());
  BrakeSettings b;
  b.where = r.Where(key);
  if (auto n = br.Integer("max_rollbacks", true)) {
    if (*n < 1 || *n > 1'000'000) {
      br.Error("max_rollbacks", "expected a whole number from 1 (for no limit, leave out brake)");
    } else {
      b.max_rollbacks = static_cast<int>(*n);
    }
  }
  if (auto d = PositiveDuration(br, "window", true)) b.window = *d;
  if (auto by = br.StringArray("by")) {
    for (size_t i = 0; i < by->size(); ++i) {
      if (!IsValidLabelName((*by)[i])) {
        br.Error("by", "invalid label name " + Quote((*by)[i]) +
                           " (letters, digits and _, not starting with a digit)");
      } else if (std::find(b.by.begin(), b.by.end(), (*by)[i]) != b.by.end()) {
        br.Error("by", "label " + Quote((*by)[i]) + " is listed twice");
      } else {
        b.by.push_back((*by)[i]);
      }
    }
  }
  br.Finish();
  return b;
}

}  // namespace rollbackd::config_internal
