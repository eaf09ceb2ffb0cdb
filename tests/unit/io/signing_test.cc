#include "daemon/io/signing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rollbackd {
namespace {

TEST(SigningTest, MatchesTheStandardWebhooksSpecExample) {
  std::string error;
  auto key = WebhookKeyFromSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", &error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(
      SignWebhook(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(SigningTest, OtherSecretsAreRawBytesWithoutTrailingNewlines) {
  std::string error;
  auto key = WebhookKeyFromSecret("raw-secret\r\n\n", &error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(*key, "raw-secret");
  // Computed independently (Python hmac/hashlib).
  EXPECT_EQ(SignWebhook(*key, "evt_1", 1700000000, "{}"),
            "v1,g7vBJRnSa0SyeYxlr/hL8FVHHDbe/sIdtaXM9pHNOjE=");
}

TEST(SigningTest, AnyChangeChangesTheSignature) {
  const std::string base = SignWebhook("k", "id", 1, "body");
  EXPECT_NE(SignWebhook("k2", "id", 1, "body"), base);
  EXPECT_NE(SignWebhook("k", "id2", 1, "body"), base);
  EXPECT_NE(SignWebhook("k", "id", 2, "body"), base);
  EXPECT_NE(SignWebhook("k", "id", 1, "body "), base);
}

TEST(SigningTest, BadSecretsAreErrorsThatDoNotEchoTheSecret) {
  std::string error;
  EXPECT_FALSE(WebhookKeyFromSecret("\n", &error));
  EXPECT_EQ(error, "the secret is empty");
  EXPECT_FALSE(WebhookKeyFromSecret("whsec_not*base64!", &error));
  EXPECT_EQ(error.find("not*base64"), std::string::npos) << error;
  EXPECT_FALSE(WebhookKeyFromSecret("whsec_", &error));
}

TEST(Base64Test, RoundTripsEveryPaddingLength) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto back = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(back) << s;
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  EXPECT_FALSE(Base64Decode("YWI"));    // not a multiple of 4
  EXPECT_FALSE(Base64Decode("YW I="));  // not base64
}

}  // namespace
}  // namespace rollbackd
