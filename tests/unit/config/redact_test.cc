#include "daemon/config/redact.h"

#include <gtest/gtest.h>

namespace rollbackd {
namespace {

TEST(RedactTest, RemovesUserInfoAndQuery) {
  struct Case {
    const char* url;
    const char* shown;
    bool credentials;
  } cases[] = {
      {"https://ci.example.com/api/rollback", "https://ci.example.com/api/rollback", false},
      {"https://u:p@ci.example.com/hook", "https://ci.example.com/hook", true},
      {"https://u:p@ss@ci.example.com:8443/hook?x=1", "https://ci.example.com:8443/hook?redacted",
       true},
      {"http://ci.example.com/hook?token=s3cr3t#frag", "http://ci.example.com/hook?redacted", true},
      {"http://ci.example.com/a@b/c", "http://ci.example.com/a@b/c", false},
      {"http://tok@127.0.0.1?x", "http://127.0.0.1?redacted", true},
      {"http://h#f", "http://h?redacted", true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RedactUrl(c.url), c.shown) << c.url;
    EXPECT_EQ(UrlHasCredentials(c.url), c.credentials) << c.url;
    EXPECT_EQ(RedactUrl(RedactUrl(c.url)), c.shown) << "idempotent: " << c.url;
  }
}

}  // namespace
}  // namespace rollbackd
