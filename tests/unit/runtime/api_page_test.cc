// GET / (the status page), /api/v1/history and /api/v1/events through the Api adapter, with a
// DaemonControl that records what it was asked. The page itself runs in a real browser in
// tests/integration/status_page_test.cc.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "daemon/runtime/api.h"
#include "daemon/runtime/status_page.h"
#include "tests/unit/runtime/fake_control.h"

namespace rollbackd {
namespace {

using nlohmann::json;

class FakeControl : public testutil::BasicControl {
 public:
  std::optional<std::string> HistoryDocument(const std::string& service) override {
    asked_history = service;
    if (service != "web shop") return std::nullopt;
    return std::string("{\"service\":\"web shop\"}");
  }
  std::string EventsDocument(const std::string& service, size_t limit) override {
    asked_events = service;
    asked_limit = limit;
    return "{\"events\":[]}";
  }
  std::string asked_history;
  std::string asked_events;
  size_t asked_limit = 0;
};

ServerRequest Get(const std::string& path, const std::string& query = "") {
  ServerRequest r;
  r.method = "GET";
  r.path = path;
  r.query = query;
  r.target = query.empty() ? path : path + "?" + query;
  return r;
}

std::string HeaderOf(const ServerResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

std::string Between(const std::string& s, const std::string& open, const std::string& close) {
  const size_t a = s.find(open);
  const size_t b = s.find(close, a);
  return s.substr(a + open.size(), b - a - open.size());
}

TEST(ApiPageTest, PageIsHtmlWithAPolicyThatAllowsOnlyItsOwnScriptAndStyle) {
  FakeControl control;
  Api api(control);
  const ServerResponse r = api.Handle(Get("/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  const std::string csp = HeaderOf(r, "Content-Security-Policy");
  EXPECT_EQ(csp.rfind("default-src 'none'; ", 0), 0u) << csp;
  EXPECT_NE(csp.find("script-src " + CspHash(Between(r.body, "<script>", "</script>")) + ";"),
            std::string::npos)
      << csp;
  EXPECT_NE(csp.find("style-src " + CspHash(Between(r.body, "<style>", "</style>")) + ";"),
            std::string::npos)
      << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  // One script and one style, nothing loaded from elsewhere, no markup built from strings.
  EXPECT_EQ(r.body.find("<script", r.body.find("<script") + 1), std::string::npos);
  EXPECT_EQ(r.body.find("<style", r.body.find("<style") + 1), std::string::npos);
  EXPECT_FALSE(std::regex_search(r.body, std::regex("(src|href)=\"(https?:)?//")));
  EXPECT_EQ(r.body.find("innerHTML"), std::string::npos);
  EXPECT_EQ(r.body.find("outerHTML"), std::string::npos);
  EXPECT_EQ(r.body.find("insertAdjacentHTML"), std::string::npos);
  EXPECT_EQ(r.body.find("document.write"), std::string::npos);
  EXPECT_EQ(r.body.find("document.cookie"), std::string::npos);
  EXPECT_NE(r.body.find("sessionStorage"), std::string::npos);

  EXPECT_EQ(api.Handle(Get("/index.html")).status, 200);
  ServerRequest post = Get("/");
  post.method = "POST";
  EXPECT_EQ(api.Handle(post).status, 405);
}

TEST(ApiPageTest, KnownCspHash) {
  // The CSP hash of "" is the SHA-256 of nothing, base64.
  EXPECT_EQ(CspHash(""), "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
}

TEST(ApiPageTest, HistoryNeedsAKnownService) {
  FakeControl control;
  Api api(control);
  const ServerResponse missing = api.Handle(Get("/api/v1/history"));
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("\\\"service\\\""), std::string::npos) << missing.body;
  EXPECT_EQ(api.Handle(Get("/api/v1/history", "service=")).status, 400);
  const ServerResponse unknown = api.Handle(Get("/api/v1/history", "service=nope"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body)["error"], "unknown service nope");
  const ServerResponse ok = api.Handle(Get("/api/v1/history", "x=1&service=web%20shop"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.content_type, "application/json");
  EXPECT_EQ(control.asked_history, "web shop");
}

TEST(ApiPageTest, EventsTakeAServiceAndABoundedLimit) {
  FakeControl control;
  Api api(control);
  EXPECT_EQ(api.Handle(Get("/api/v1/events")).status, 200);
  EXPECT_EQ(control.asked_events, "");
  EXPECT_EQ(control.asked_limit, 200u);
  EXPECT_EQ(api.Handle(Get("/api/v1/events", "service=db&limit=5")).status, 200);
  EXPECT_EQ(control.asked_events, "db");
  EXPECT_EQ(control.asked_limit, 5u);
  EXPECT_EQ(api.Handle(Get("/api/v1/events", "limit=100000")).status, 200);
  EXPECT_EQ(control.asked_limit, 200u);
  for (const char* bad : {"limit=0", "limit=-1", "limit=x", "limit=", "limit=5x"}) {
    EXPECT_EQ(api.Handle(Get("/api/v1/events", bad)).status, 400) << bad;
  }
}

TEST(ApiPageTest, QueryParameterDecodes) {
  EXPECT_EQ(QueryParameter("a=1&service=web%2Fshop+x", "service"), "web/shop x");
  EXPECT_EQ(QueryParameter("service", "service"), "");
  EXPECT_EQ(QueryParameter("services=a", "service"), std::nullopt);
  EXPECT_EQ(QueryParameter("service=%zz", "service"), std::nullopt);
  EXPECT_EQ(QueryParameter("service=%4", "service"), std::nullopt);
  EXPECT_EQ(QueryParameter("", "service"), std::nullopt);
}

}  // namespace
}  // namespace rollbackd
