// Rule test series against Debian's promtool (2.42), side by side: for hundreds of generated
// series descriptions, every step's value must be the same double in both tools, and a sample
// missing in one must be missing in the other. promtool evaluates the series at each step through
// a promql_expr_test that expects nothing, so that it prints what it got.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/config/text.h"
#include "daemon/ruletest/series_notation.h"
#include "tests/unit/run_child.h"
#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

using testutil::RunChild;

// A decimal as an SRE writes one: 10.37, 0.2, 1e-3, 250, and now and then an odd one.
std::string Decimal(std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(0, 9);
  std::uniform_int_distribution<int> cents(0, 100000);
  switch (pick(rng)) {
    case 0:
      return "1e-310";
    case 1:
      return std::to_string(cents(rng) % 1000) + "e-" + std::to_string(pick(rng));
    case 2:
      return std::to_string(cents(rng) % 10);
    default: {
      const int c = cents(rng);
      std::string frac = std::to_string(c % 1000);
      frac.insert(0, 3 - frac.size(), '0');
      return std::to_string(c / 1000) + "." + frac;
    }
  }
}

std::string Token(std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(0, 15);
  std::uniform_int_distribution<int> count(0, 6);
  switch (pick(rng)) {
    case 0:
      return "_";
    case 1:
      return "_x" + std::to_string(1 + count(rng) % 3);
    case 2:
      return "stale";
    case 3:
      return "NaN";
    case 4:
      return "+Inf";
    case 5:
      return "-Inf";
    case 6:
      return Decimal(rng) + "x" + std::to_string(count(rng));
    case 7:
    case 8:
    case 9:
      return Decimal(rng) + "-" + Decimal(rng) + "x" + std::to_string(count(rng));
    case 10:
    case 11:
    case 12:
      return Decimal(rng) + "+" + Decimal(rng) + "x" + std::to_string(count(rng));
    default:
      return (pick(rng) % 2 ? "-" : "") + Decimal(rng);
  }
}

// Both NaN, or the same bits (so -0 and 0 differ, as they would in promtool's output).
bool Same(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

TEST(PromtoolAgreementTest, EverySeriesHasPromtoolsValuesAtEveryStep) {
  constexpr int kSeries = 300;
  constexpr size_t kMaxSteps = 40;
  std::mt19937 rng(20261203);
  std::vector<std::string> texts;
  std::vector<std::vector<SeriesPoint>> ours;
  size_t steps = 0;
  while (texts.size() < kSeries) {
    std::string text;
    std::vector<SeriesPoint> points;
    for (int tries = 0; tries < 20; ++tries) {
      const std::string candidate = text + (text.empty() ? "" : " ") + Token(rng);
      std::string error;
      auto expanded = ExpandSeries(candidate, &error);
      ASSERT_TRUE(expanded) << candidate << ": " << error;
      if (expanded->size() > kMaxSteps) break;
      text = candidate;
      points = std::move(*expanded);
    }
    if (points.empty()) continue;
    steps = std::max(steps, points.size());
    texts.push_back(text);
    ours.push_back(std::move(points));
  }

  // One step every 10m: more than promtool's 5m lookback, so a missing sample is missing there.
  std::ostringstream yml;
  yml << "rule_files: []\nevaluation_interval: 10m\ntests:\n  - interval: 10m\n"
      << "    input_series:\n";
  for (size_t i = 0; i < texts.size(); ++i) {
    yml << "      - series: 's_" << i << "'\n        values: '" << texts[i] << "'\n";
  }
  yml << "    promql_expr_test:\n";
  for (size_t k = 0; k < steps; ++k) {
    yml << "      - expr: '{__name__=~\"s_.+\"}'\n        eval_time: " << k * 10
        << "m\n        exp_samples: []\n";
  }
  testutil::TempDir dir;
  const std::string file = dir.Write("series_test.yml", yml.str());
  const ExecResult r =
      RunChild({"promtool", "test", "rules", file}, std::chrono::seconds(60), size_t{8} << 20);
  if (!r.started || r.exit_status == 127) {
    GTEST_SKIP() << "no promtool in PATH (Debian: apt-get install prometheus, or scripts/deps)";
  }
  ASSERT_FALSE(r.timed_out) << r.output;
  const std::string& out = r.output;
  ASSERT_NE(out.find("got:"), std::string::npos) << "promtool printed no values:\n" << out;

  // "expr: ..., time: 40m," then "got: {__name__="s_0"} 9.570000000000002E+00, {...} +Inf"
  std::map<size_t, std::map<size_t, double>> theirs;  // step -> series -> value
  const std::regex time_re(R"(time: ([0-9hms]+),)");
  const std::regex sample_re(R"re(\{__name__="s_([0-9]+)"\} ([^,\s]+))re");
  std::istringstream lines(out);
  std::string line;
  std::optional<size_t> step;
  size_t got_lines = 0;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_search(line, m, time_re)) {
      const std::string t = m[1];
      int minutes = 0;
      if (t != "0s") {
        const size_t h = t.find('h');
        if (h != std::string::npos) minutes = 60 * std::stoi(t.substr(0, h));
        const size_t rest = h == std::string::npos ? 0 : h + 1;
        if (rest < t.size() && t.find('m', rest) != std::string::npos) {
          minutes += std::stoi(t.substr(rest));
        }
      }
      step = static_cast<size_t>(minutes / 10);
      continue;
    }
    if (line.find("got:") == std::string::npos || !step) continue;
    ++got_lines;
    for (auto it = std::sregex_iterator(line.begin(), line.end(), sample_re);
         it != std::sregex_iterator(); ++it) {
      theirs[*step][std::stoul((*it)[1])] = std::strtod((*it)[2].str().c_str(), nullptr);
    }
  }
  ASSERT_GT(got_lines, steps / 2) << out.substr(0, 2000);

  size_t values = 0, missing = 0, disagreements = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    for (size_t k = 0; k < steps; ++k) {
      const bool have = k < ours[i].size() && ours[i][k].kind == SeriesPoint::Kind::kValue;
      auto step_it = theirs.find(k);
      const bool they_have =
          step_it != theirs.end() && step_it->second.find(i) != step_it->second.end();
      if (have) ++values;
      if (!have) ++missing;
      if (have != they_have || (have && !Same(ours[i][k].value, step_it->second.at(i)))) {
        if (++disagreements <= 10) {
          ADD_FAILURE() << "s_" << i << " '" << texts[i] << "' step " << k << ": rollbackd "
                        << (have ? ShortestNumber(ours[i][k].value) : "no sample") << ", promtool "
                        << (they_have ? ShortestNumber(step_it->second.at(i)) : "no sample");
        }
      }
    }
  }
  EXPECT_EQ(disagreements, 0u);
  EXPECT_GT(values, 3000u);  // the comparison saw real data
  EXPECT_GT(missing, 100u);
  std::cout << "compared " << values << " values and " << missing << " missing samples of "
            << ours.size() << " series with promtool\n";
}

}  // namespace
}  // namespace rollbackd
