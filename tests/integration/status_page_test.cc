// The status page (GET /) in a real browser: Debian's chromium, headless, driven over the DevTools
// protocol, against a live rollbackd reading a real Prometheus that scrapes the sample service.
// Label values and the version carry markup, as a hostile exporter or rule file could: the page
// must show them as text. A screenshot is kept under the build dir (test-artifacts/).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "testing/chromium.h"
#include "testing/harness.h"

namespace rollbackd::it {
namespace {

constexpr char kMarkup[] = "<img src=x onerror=alert(1)>";

// The error rate with a label whose value is markup (label_replace), alert only; the version
// from a query whose `version` label is markup; a service label (every event carries it) too.
std::string Rule() {
  const std::string m = kMarkup;
  return R"(service  = "shop"
interval = "1s"
labels   = { team = ")" +
         m + R"(" }

[[trigger]]
name     = "error_rate"
query    = 'label_replace(sum(rate(sample_http_requests_total{code="500"}[4s])) / sum(rate(sample_http_requests_total[4s])), "note", ")" +
         m + R"(", "", "")'
above    = 0.05
for      = "2s"
severity = "critical"
rollback = false

[deploy]
version_query = 'label_replace(max(sample_build_info), "version", ")" +
         m + R"(", "", "")'
)";
}

// Before the page's own script: alert and prompt recorded and answered by the test.
constexpr char kHooks[] = R"JS(
window.__alerts = [];
window.__prompts = 0;
window.__answer = null;
window.alert = (m) => { window.__alerts.push(String(m)); };
window.prompt = () => { window.__prompts += 1; return window.__answer; };
)JS";

constexpr char kTriggerState[] = R"JS(
(() => {
  const row = [...document.querySelectorAll("section.service tr.trigger")]
      .find((tr) => tr.dataset.trigger === "error_rate");
  return {state: row ? row.querySelector(".state").textContent : "",
          refreshes: Number(document.body.dataset.refreshes || 0)};
})()
)JS";

json ApiStatus(Stack& s) {
  return json::parse(Http("GET", s.daemon_url() + "/api/v1/status").body, nullptr, false);
}

bool ApiPaused(Stack& s) {
  const json st = ApiStatus(s);
  return !st.is_discarded() && st["services"][0]["paused"] == true;
}

std::string JsString(const std::string& s) { return json(s).dump(); }

TEST(StatusPage, InChromiumListsServicesShowsFiringPausesOnlyWithTheTokenAndShowsMarkupAsText) {
  TempDir browser_dir;
  std::string why;
  std::unique_ptr<Chromium> browser = Chromium::Start(browser_dir.path(), &why);
  if (!browser) GTEST_SKIP() << "chromium cannot start, the status page is not tested: " << why;

  Stack s(StackOptions{Rule()});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  const std::string png = std::string(ROLLBACKD_BUILD_DIR) + "/test-artifacts/status-page.png";
  std::filesystem::remove(png);
  // Whatever happens below, the page as it was at the end is kept.
  struct Shot {
    Chromium& browser;
    std::string path;
    ~Shot() {
      try {
        browser.Screenshot(path);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "screenshot failed: %s\n", e.what());
      }
    }
  } shot{*browser, png};

  auto page = [&](const std::string& js) { return browser->Evaluate(js); };
  auto wait_page = [&](const std::string& js, std::chrono::milliseconds limit) {
    return WaitFor([&] { return page(js) == true; }, limit);
  };
  browser->Call("Page.enable");
  browser->Call("Page.addScriptToEvaluateOnNewDocument", {{"source", kHooks}});
  browser->Call("Page.navigate", {{"url", s.daemon_url() + "/?refresh=1"}});

  // The page lists the service, with its version and the series' labels as text.
  ASSERT_TRUE(wait_page(
      R"JS([...document.querySelectorAll("section.service")].map((e) => e.dataset.service)
           .join(",") === "shop")JS",
      20s))
      << page("document.body.innerText");
  ASSERT_EQ(page("Array.isArray(window.__alerts) && window.__prompts === 0"), true)
      << "the test's alert and prompt hooks are not in the page";
  ASSERT_TRUE(wait_page("document.querySelector('section.service .version').textContent === " +
                            JsString(std::string("version ") + kMarkup),
                        30s))
      << page("document.body.innerText") << "\n"
      << s.daemon().log();
  ASSERT_TRUE(
      wait_page("[...document.querySelectorAll('tr.trigger .labels')].some((e) => "
                "e.textContent === " +
                    JsString(std::string("{note=\"") + kMarkup + "\"}") + ")",
                15s))
      << page("document.body.innerText");
  EXPECT_EQ(page("document.querySelector('section.service tr.trigger .state').textContent"),
            "inactive");

  // A trigger that starts firing shows as firing within one refresh of the page: at the latest
  // by the first refresh that started after the API said so.
  ASSERT_TRUE(s.SampleFault("error_rate=0.5"));
  ASSERT_TRUE(WaitFor(
      [&] {
        const json st = ApiStatus(s);
        return !st.is_discarded() && st["services"][0]["triggers"][0]["state"] == "firing";
      },
      30s))
      << s.daemon().log();
  const int refreshes_when_firing = page(kTriggerState)["refreshes"].get<int>();
  json seen;
  ASSERT_TRUE(WaitFor(
      [&] {
        seen = page(kTriggerState);
        return seen["state"] == "firing";
      },
      10s))
      << seen.dump();
  EXPECT_LE(seen["refreshes"].get<int>(), refreshes_when_firing + 2)
      << "the page showed firing only after "
      << seen["refreshes"].get<int>() - refreshes_when_firing << " refreshes";
  EXPECT_TRUE(
      page("document.querySelector('section.service tr.trigger td:nth-child(7)')"
           ".textContent.length > 0"))
      << "firing since";
  // The recent events list the firing, with its reason, and the service label as text.
  ASSERT_TRUE(
      wait_page("[...document.querySelectorAll('#events tr.event')].some((tr) => "
                "tr.children[1].textContent === 'trigger.firing' && "
                "tr.children[3].textContent.includes(" +
                    JsString(std::string("team=\"") + kMarkup + "\"") +
                    ") && tr.children[4].textContent.length > 0)",
                15s))
      << page("document.querySelector('#events').innerText");
  // Markup stayed text everywhere: no element was made from it, no handler ran.
  EXPECT_EQ(page("document.getElementsByTagName('img').length"), 0);
  EXPECT_EQ(page("window.__alerts.length"), 0);
  EXPECT_TRUE(page("document.body.innerText.includes(" + JsString(kMarkup) + ")"));

  auto click = [&](const std::string& action) {
    page("document.querySelector('section.service button[data-action=\"" + action +
         "\"]').click(); true");
  };
  auto message = [&] { return page("document.getElementById('message').textContent"); };

  // Pause without a token (the prompt cancelled): the daemon's 401 on the page, not paused.
  page("sessionStorage.clear(); window.__answer = null; true");
  click("pause");
  ASSERT_TRUE(
      wait_page("document.getElementById('message').textContent === "
                "'pause shop: 401 a valid bearer token is required'",
                10s))
      << message();
  EXPECT_FALSE(ApiPaused(s));
  EXPECT_EQ(page("sessionStorage.getItem('rollbackd.token')"), nullptr);

  // With a wrong token: 401 again, the service not paused, the token forgotten.
  page(
      "document.getElementById('message').textContent = ''; window.__answer = 'wrong-token'; "
      "true");
  click("pause");
  ASSERT_TRUE(wait_page("document.getElementById('message').textContent.includes('401')", 10s))
      << message();
  EXPECT_EQ(page("document.getElementById('message').className"), "error");
  EXPECT_FALSE(ApiPaused(s));
  EXPECT_EQ(page("sessionStorage.getItem('rollbackd.token')"), nullptr);
  EXPECT_EQ(page("document.querySelector('section.service .paused-state').textContent"),
            "not paused");

  // With the token: paused, on the page and in the daemon; the token stays in sessionStorage
  // (no cookie).
  page("window.__answer = " + JsString(s.api_token()) + "; true");
  click("pause");
  ASSERT_TRUE(wait_page(
      "document.querySelector('section.service .paused-state').textContent === 'paused'", 10s))
      << message();
  EXPECT_TRUE(ApiPaused(s));
  EXPECT_EQ(message(), "pause shop: done (200)");
  EXPECT_EQ(page("sessionStorage.getItem('rollbackd.token')"), s.api_token());
  EXPECT_EQ(page("document.cookie"), "");

  // Resume uses the kept token: no second prompt.
  page("window.__answer = null; true");
  const int prompts = page("window.__prompts").get<int>();
  click("resume");
  ASSERT_TRUE(wait_page(
      "document.querySelector('section.service .paused-state').textContent === 'not paused'", 10s))
      << message();
  EXPECT_FALSE(ApiPaused(s));
  EXPECT_EQ(page("window.__prompts"), prompts);
  EXPECT_EQ(prompts, 3) << "one prompt per pause without a kept token";

  // The sparkline drew the value and the threshold of the last hour.
  ASSERT_TRUE(wait_page(
      "document.querySelectorAll('section.service svg.spark polyline').length >= 2", 20s));
  EXPECT_EQ(page("document.getElementsByTagName('img').length"), 0);
  EXPECT_EQ(page("window.__alerts.length"), 0);

  // The Content-Security-Policy is in force: a script the page did not ship does not run (the
  // page's own did, by its hash).
  EXPECT_EQ(page(R"JS((() => {
    const s = document.createElement("script");
    s.textContent = "window.__injected = true;";
    document.body.appendChild(s);
    return window.__injected === undefined;
  })())JS"),
            true);
}

}  // namespace
}  // namespace rollbackd::it
