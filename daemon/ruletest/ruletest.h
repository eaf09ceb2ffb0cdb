// `rollbackd test`: rule unit tests. A test file names a rule file and gives, per test, the values
// each query returns at each evaluation (series_notation.h), deploys, and the complete timeline of
// events expected; the engine runs on them with no Prometheus and no clock. Format: docs/rules.md.
#ifndef ROLLBACKD_RULETEST_RULETEST_H_
#define ROLLBACKD_RULETEST_RULETEST_H_

#include <ostream>
#include <string>

namespace rollbackd {

struct RuleTestOptions {
  bool verbose = false;  // print every test and its timeline, not only failures
};

struct RuleTestSummary {
  int passed = 0;
  int failed = 0;
};

// Runs every [[test]] in the file at `path`. A test file that cannot be read or is malformed prints
// its diagnostics and counts as one failed test.
RuleTestSummary RunRuleTestFile(const std::string& path, const RuleTestOptions& options,
                                std::ostream& out);

}  // namespace rollbackd

#endif  // ROLLBACKD_RULETEST_RULETEST_H_
