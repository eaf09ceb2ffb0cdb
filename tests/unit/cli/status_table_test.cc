// rollbackd status's table from status documents as the daemon writes them (docs/api.md).
#include "daemon/cli/status_table.h"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

namespace rollbackd {
namespace {

using std::chrono::system_clock;

// 2026-12-03T18:10:00Z
const system_clock::time_point kNow = system_clock::time_point(std::chrono::seconds(1796321400));

constexpr const char kDoc[] = R"JSON({
  "version": "0.1.0", "config_file": "/etc/rollbackd/rollbackd.toml", "ready": true,
  "dry_run": false,
  "services": [{
    "name": "checkout", "paused": false, "dry_run": false, "version": "v2",
    "last_deploy": "2026-12-03T18:00:00.000Z", "last_rollback": null, "rollback_in_flight": null,
    "triggers": [{
      "name": "error_rate", "kind": "trigger", "state": "firing", "last_error": null,
      "series": [{"labels": {}, "state": "firing", "value": 0.101, "threshold": 0.05,
                  "baseline": null, "pending_since": "2026-12-03T18:04:00.000Z",
                  "firing_since": "2026-12-03T18:05:48.000Z"}]
    }, {
      "name": "p99", "kind": "trigger", "state": "pending", "last_error": null,
      "series": [{"labels": {"route": "/pay"}, "state": "pending", "value": 1.5,
                  "threshold": 0.75, "baseline": 0.5,
                  "pending_since": "2026-12-03T18:09:30.000Z", "firing_since": null},
                 {"labels": {"route": "/cart"}, "state": "inactive", "value": null,
                  "threshold": 0.75, "baseline": 0.5, "pending_since": null,
                  "firing_since": null}]
    }, {
      "name": "ready", "kind": "health", "state": "inactive", "last_error": null, "series": []
    }]
  }, {
    "name": "cart", "paused": true, "dry_run": false, "version": null, "last_deploy": null,
    "last_rollback": null, "rollback_in_flight": null,
    "triggers": [{
      "name": "errors", "kind": "trigger", "state": "inactive",
      "last_error": "prometheus default: connection refused", "series": []
    }]
  }]
})JSON";

std::string Render(const std::string& doc, bool color = false) {
  std::string out, error;
  EXPECT_TRUE(RenderStatusTable(doc, {color, kNow}, &out, &error)) << error;
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(StatusTableTest, OneAlignedRowPerSeriesUnderTheSevenColumns) {
  const std::vector<std::string> lines = Lines(Render(kDoc));
  ASSERT_GE(lines.size(), 6u);
  EXPECT_EQ(lines[0], "SERVICE   VERSION  TRIGGER             STATE     VALUE  THRESHOLD  SINCE");
  EXPECT_EQ(lines[1],
            "checkout  v2       error_rate          firing    0.101  0.05       4m12s (18:05:48Z)");
  EXPECT_EQ(lines[2],
            "checkout  v2       p99{route=\"/pay\"}   pending   1.5    0.75       30s (18:09:30Z)");
  EXPECT_EQ(lines[3], "checkout  v2       p99{route=\"/cart\"}  inactive  -      0.75       -");
  EXPECT_EQ(lines[4], "checkout  v2       ready (health)      inactive  -      -          -");
  EXPECT_EQ(lines[5], "cart      -        errors              inactive  -      -          -");
  // Every column starts at the same offset on every row.
  for (size_t i = 1; i < 6; ++i) {
    EXPECT_EQ(lines[i].find("  ", 8), lines[0].find("  ", 8)) << lines[i];
  }
}

TEST(StatusTableTest, NotesSayWhatIsPausedAndWhichInputsFail) {
  const std::string out = Render(kDoc);
  EXPECT_NE(out.find("\npaused: cart (automatic rollbacks skipped"), std::string::npos) << out;
  EXPECT_NE(out.find("input error cart/errors: prometheus default: connection refused"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("brake"), std::string::npos) << out;  // not configured: not mentioned
  EXPECT_EQ(out.find("not ready"), std::string::npos) << out;
}

TEST(StatusTableTest, NoColourUnlessAskedAndThenOnlyOnStatesAndNotes) {
  EXPECT_EQ(Render(kDoc).find('\x1b'), std::string::npos);
  const std::vector<std::string> lines = Lines(Render(kDoc, true));
  EXPECT_NE(lines[1].find("\x1b[1;31mfiring\x1b[0m"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("\x1b[33mpending\x1b[0m"), std::string::npos) << lines[2];
  EXPECT_EQ(lines[3].find('\x1b'), std::string::npos) << lines[3];
  // Colour does not move the columns: without the codes, the rows are the same.
  const std::vector<std::string> plain = Lines(Render(kDoc));
  std::string line1 = lines[1];
  for (const char* code : {"\x1b[1;31m", "\x1b[0m"}) {
    line1.erase(line1.find(code), std::string(code).size());
  }
  EXPECT_EQ(line1, plain[1]);
}

TEST(StatusTableTest, LongNamesWidenTheirColumnAndNothingIsCut) {
  const std::string long_name(70, 's');
  std::string doc = kDoc;
  doc.replace(doc.find("\"checkout\""), 10, "\"" + long_name + "\"");
  const std::vector<std::string> lines = Lines(Render(doc));
  EXPECT_EQ(lines[0].find("VERSION"), long_name.size() + 2);
  EXPECT_EQ(lines[1].find(long_name + "  v2"), 0u);
  EXPECT_EQ(lines[5].find("cart "), 0u);
  EXPECT_EQ(lines[5].find('-'), long_name.size() + 2);
}

TEST(StatusTableTest, MarkupIsPrintedLiterallyAndControlCharactersAreEscaped) {
  const std::string doc =
      R"JSON({"services": [{"name": "shop", "version": "<img src=x onerror=alert(1)>",
    "triggers": [{"name": "t", "kind": "trigger", "state": "inactive",
      "last_error": "bad\u001b[2Jthing",
      "series": [{"labels": {"path": "<script>\u0007</script>"}, "state": "inactive",
                  "value": 1, "threshold": 2}]}]}]})JSON";
  const std::string out = Render(doc);
  EXPECT_NE(out.find("<img src=x onerror=alert(1)>"), std::string::npos) << out;
  EXPECT_NE(out.find("t{path=\"<script>\\x07</script>\"}"), std::string::npos) << out;
  EXPECT_NE(out.find("bad\\x1b[2Jthing"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_EQ(out.find('\x07'), std::string::npos);
}

TEST(StatusTableTest, UnknownValuesAreADashAndNumbersAreShortestExact) {
  const std::string doc = R"JSON({"services": [{"name": "s", "version": "v1", "triggers": [
    {"name": "t", "kind": "trigger", "state": "pending", "series": [
      {"labels": {}, "state": "pending", "value": 1000000.4, "threshold": null,
       "pending_since": "garbage"}]}]}]})JSON";
  const std::vector<std::string> lines = Lines(Render(doc));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "s        v1       t        pending  1000000.4  -          garbage");
}

TEST(StatusTableTest, TheBrakeInFlightRollbacksAndClusterAreNoted) {
  const std::string doc = R"JSON({"ready": false, "dry_run": true, "services": [
    {"name": "a", "rollback_in_flight": "a-17", "evaluated_here": false, "owner": "m2",
     "triggers": []}],
    "brake": {"max_rollbacks": 2, "window_seconds": 600.0, "by": ["cluster"], "engaged": true,
      "groups": [{"group": "cluster=eu", "labels": {"cluster": "eu"}, "engaged": true,
                  "since": "2026-12-03T18:08:00.000Z", "rolled_back": ["a", "b"],
                  "held": ["c"]}]},
    "cluster": {"name": "prod", "members": ["m1", "m2"], "healthy": true,
                "lease": {"id": "7", "live": true}}})JSON";
  const std::string out = Render(doc);
  EXPECT_NE(out.find("\nnot ready: the first evaluation round is not done yet\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\ndry run: no rollback hook runs"), std::string::npos) << out;
  EXPECT_NE(out.find("\nrollback in flight: a (id a-17)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nbrake engaged [cluster=eu] for 2m00s (18:08:00Z), at most 2 rollbacks in "
                     "10m00s: rolled back a, b; holding c"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\ncluster prod: members m1, m2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("not evaluated here (only the owner's view is current): a (owner m2)"),
            std::string::npos)
      << out;
}

TEST(StatusTableTest, AnEmptyFleetAndADocumentThatIsNotOne) {
  EXPECT_NE(Render(R"({"services": []})").find("(no services)"), std::string::npos);
  std::string out, error;
  EXPECT_FALSE(RenderStatusTable("<html>", {false, kNow}, &out, &error));
  EXPECT_NE(error.find("not a status document"), std::string::npos) << error;
  EXPECT_FALSE(RenderStatusTable(R"({"services": 3})", {false, kNow}, &out, &error));
}

TEST(StatusTableTest, FilterKeepsOneServiceOrNamesTheKnownOnes) {
  std::string out, error;
  ASSERT_EQ(FilterStatus(kDoc, "cart", &out, &error), FilterResult::kOk) << error;
  EXPECT_EQ(out.find("checkout"), std::string::npos) << out;
  EXPECT_NE(out.find("\"name\": \"cart\""), std::string::npos) << out;
  EXPECT_EQ(FilterStatus(kDoc, "nope", &out, &error), FilterResult::kUnknownService);
  EXPECT_EQ(error, "the daemon has no service nope (it has: checkout, cart)");
  ASSERT_EQ(FilterStatus(kDoc, "", &out, &error), FilterResult::kOk);
  EXPECT_NE(out.find("checkout"), std::string::npos);
  EXPECT_NE(out.find("cart"), std::string::npos);
}

TEST(StatusTableTest, AgesReadAtAGlance) {
  using std::chrono::milliseconds;
  EXPECT_EQ(FormatAge(milliseconds(-5000)), "0s");
  EXPECT_EQ(FormatAge(milliseconds(59999)), "59s");
  EXPECT_EQ(FormatAge(milliseconds(252000)), "4m12s");
  EXPECT_EQ(FormatAge(milliseconds(3600000 * 3 + 300000)), "3h05m");
  EXPECT_EQ(FormatAge(milliseconds(86400000LL * 2 + 3600000 * 3)), "2d03h");
}

TEST(StatusTableTest, AnInstantOfAnotherDayShowsItsDate) {
  std::string doc = kDoc;
  doc.replace(doc.find("2026-12-03T18:05:48.000Z"), 24, "2026-12-01T07:05:48.000Z");
  const std::vector<std::string> lines = Lines(Render(doc));
  EXPECT_NE(lines[1].find("2d11h (2026-12-01 07:05Z)"), std::string::npos) << lines[1];
}

}  // namespace
}  // namespace rollbackd
