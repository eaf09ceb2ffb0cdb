// The notifier on fakes of its transport and clock, as timelines: retry backoff and its jitter,
// max_age, group_wait, Alertmanager's re-sends and the drain limit, with every instant explicit and
// nothing sleeping. (notifier_test.cc has the same notifier against real receivers.)
//
// FakeClock and FakeHttp are local to this file for now; testing/fake_clock.h is on its way.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/config/loader.h"
#include "daemon/engine/event.h"
#include "daemon/io/clock.h"
#include "daemon/io/file_system.h"
#include "daemon/io/transport.h"
#include "daemon/notify/notifier.h"
#include "daemon/notify/render.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Event Firing() {
  Event e;
  e.kind = EventKind::kTriggerFiring;
  e.time = Time(1'700'000'000'000ms);
  e.service = "checkout";
  e.trigger = "error_rate";
  e.severity = Severity::kCritical;
  e.labels = {{"team", "payments"}};
  e.value = 0.31;
  e.threshold = 0.02;
  e.reason = "value 0.31 > 0.02 held 1m >= 1m";
  e.id = MakeEventId(e.kind, e.service, e.trigger, 0, e.time);
  return e;
}

// A clock that moves only when told: Advance fires the timers that come due, in the order of
// their deadlines (ties in the order they were set), each with the clock at its deadline; what a
// callback sets within the advance fires in it too. The wall clock moves with the steady one.
class FakeClock : public Clock {
 public:
  class FakeTimer : public Timer {
   public:
    explicit FakeTimer(FakeClock& clock) : clock_(clock) { clock_.timers_.insert(this); }
    ~FakeTimer() override { clock_.timers_.erase(this); }
    void At(SteadyTime when, std::function<void()> fn) override {
      when_ = when;
      fn_ = std::move(fn);
      order_ = ++clock_.set_count_;
    }
    void Cancel() override { fn_ = nullptr; }

   private:
    friend class FakeClock;
    FakeClock& clock_;
    SteadyTime when_{};
    uint64_t order_ = 0;
    std::function<void()> fn_;
  };

  WallTime WallNow() override { return wall_; }
  SteadyTime SteadyNow() override { return steady_; }
  std::unique_ptr<Timer> NewTimer() override { return std::make_unique<FakeTimer>(*this); }

  void Advance(Duration d) {
    const SteadyTime end = steady_ + d;
    for (size_t steps = 0;; ++steps) {
      if (steps == 100'000) {
        ADD_FAILURE() << "100,000 timers in one Advance: a busy loop";
        break;
      }
      FakeTimer* next = nullptr;
      for (FakeTimer* t : timers_) {
        if (!t->fn_ || t->when_ > end) continue;
        if (next == nullptr ||
            std::tie(t->when_, t->order_) < std::tie(next->when_, next->order_)) {
          next = t;
        }
      }
      if (next == nullptr) break;
      MoveTo(std::max(steady_, next->when_));
      auto fn = std::move(next->fn_);
      next->fn_ = nullptr;
      ++fired_;
      fn();  // may destroy `next`
    }
    MoveTo(end);
  }

  Duration elapsed() const { return std::chrono::duration_cast<Duration>(steady_ - SteadyTime{}); }
  size_t fired() const { return fired_; }  // timers that fired so far
  Time wall() const { return std::chrono::time_point_cast<Duration>(wall_); }

 private:
  void MoveTo(SteadyTime t) {
    wall_ += t - steady_;
    steady_ = t;
  }

  SteadyTime steady_{};
  WallTime wall_ = Time(1'700'000'000'000ms);
  std::set<FakeTimer*> timers_;
  uint64_t set_count_ = 0;
  size_t fired_ = 0;
};

// Records each request; the test answers them, in any order, when its timeline says so.
class FakeHttp : public HttpTransport {
 public:
  struct Call {
    HttpRequest request;
    std::function<void(HttpResponse)> done;
  };
  void Send(HttpRequest request, std::function<void(HttpResponse)> done) override {
    calls.push_back(Call{std::move(request), std::move(done)});
  }
  // Answers request `i` with `status` (0: a refused connection).
  void Reply(size_t i, int status) {
    HttpResponse r =
        status == 0 ? HttpResponse::Failed(TransportError::kConnection, "refused") : HttpResponse{};
    r.status = status;
    auto done = std::move(calls.at(i).done);
    ASSERT_TRUE(done) << "request " << i << " was answered already";
    done(std::move(r));
  }
  void ReplyLast(int status) { Reply(calls.size() - 1, status); }

  std::vector<Call> calls;
};

class FakeExec : public ProcessRunner {
 public:
  void Run(ExecRequest request, std::function<void(ExecResult)>) override {
    runs.push_back(std::move(request));
  }
  std::vector<ExecRequest> runs;
};

// The real file system, except that appends fail while `fail_appends` is set (a full disk).
class FlakyFileSystem : public FileSystem {
 public:
  Read ReadFile(const std::string& path, std::string* out, std::string* error) override {
    return real_.ReadFile(path, out, error);
  }
  bool WriteFileAtomically(const std::string& path, std::string_view content,
                           std::string* error) override {
    return real_.WriteFileAtomically(path, content, error);
  }
  std::unique_ptr<AppendFile> OpenForAppend(const std::string& path, int mode,
                                            std::string* error) override {
    auto file = real_.OpenForAppend(path, mode, error);
    return file ? std::make_unique<Flaky>(std::move(file), fail_appends) : nullptr;
  }
  bool Rename(const std::string& from, const std::string& to, std::string* error,
              bool* missing) override {
    return real_.Rename(from, to, error, missing);
  }
  bool CreateDirectories(const std::string& path, std::string* error) override {
    return real_.CreateDirectories(path, error);
  }
  std::unique_ptr<FileLock> Lock(const std::string& path, std::string* error) override {
    return real_.Lock(path, error);
  }

  bool fail_appends = false;

 private:
  class Flaky : public AppendFile {
   public:
    Flaky(std::unique_ptr<AppendFile> file, const bool& fail)
        : file_(std::move(file)), fail_(fail) {}
    bool Append(std::string_view data, std::string* error) override {
      if (fail_) {
        *error = "write: No space left on device";
        return false;
      }
      return file_->Append(data, error);
    }
    bool Sync(std::string* error) override { return file_->Sync(error); }
    bool Truncate(uint64_t size, std::string* error) override {
      return file_->Truncate(size, error);
    }
    uint64_t Size() override { return file_->Size(); }

   private:
    std::unique_ptr<AppendFile> file_;
    const bool& fail_;
  };
  FileSystem& real_ = RealFileSystem();
};

class FakeNotifierTest : public ::testing::Test {
 protected:
  // Backoff 1 s doubling up to 60 s; the jitter is `jitter_` (0.5: none, 0: -20%, 1: +20%).
  Notifier& Make(NotifierOptions o = {}) {
    o.jitter = [this] { return jitter_; };
    notifier_ = std::make_unique<Notifier>(http_, exec_, clock_, fs_, std::move(o));
    notifier_->SetObserver([this](std::string_view channel, std::string_view result) {
      outcomes_.push_back(std::string(channel) + ":" + std::string(result));
    });
    return *notifier_;
  }
  void Load(const std::string& toml) {
    Diagnostics d;
    auto c = ParseDaemonConfig(toml, "/nonexistent/rollbackd.toml", &d);
    ASSERT_TRUE(c.has_value()) << (d.all().empty() ? "" : d.all()[0].ToString());
    std::vector<std::string> errors;
    ASSERT_TRUE(notifier_->Configure(*c, &errors)) << ::testing::PrintToString(errors);
  }
  Event At(Event e, Duration offset) {
    e.time = clock_.wall() + offset;
    e.id = MakeEventId(e.kind, e.service, e.trigger, 0, e.time);
    return e;
  }
  // Advances by `d` and says whether a request was made in that time.
  bool RequestWithin(Duration d) {
    const size_t before = http_.calls.size();
    clock_.Advance(d);
    return http_.calls.size() > before;
  }

  FakeClock clock_;
  FakeHttp http_;
  FakeExec exec_;
  FlakyFileSystem fs_;
  double jitter_ = 0.5;
  std::vector<std::string> outcomes_;
  std::unique_ptr<Notifier> notifier_;  // last: destroyed before the fakes it uses
};

constexpr const char* kHook =
    "[channel.oncall]\ntype = \"webhook\"\nurl = \"http://hooks.example/h\"\n"
    "[[route]]\nchannels = [\"oncall\"]\n";

// A not_before read back from a damaged outbox can lie centuries ahead: the steady clock's
// nanoseconds overflow past 292 years (found by fuzz/state_dir_fuzz.cc). The lane waits a day at a
// time, works the wait out again, and neither sends early nor spins.
TEST_F(FakeNotifierTest, ANotBeforeCenturiesAheadWaitsADayAtATimeAndNeverSpins) {
  Notifier& n = Make();
  Load(kHook);
  std::vector<OutboxEntry> entries = n.Prepare({At(Firing(), 0s)});
  ASSERT_EQ(entries.size(), 1u);
  entries[0].not_before = clock_.wall() + std::chrono::hours(24 * 365 * 1000);
  ASSERT_TRUE(n.Commit(entries));
  const size_t before = clock_.fired();
  for (int day = 0; day < 3; ++day) EXPECT_FALSE(RequestWithin(24h)) << "day " << day;
  EXPECT_LE(clock_.fired() - before, 6u) << "a wake-up a day at most, not a busy loop";
  // Never sent: it expired at its max_age (12 h, the outbox default) instead.
  EXPECT_THAT(outcomes_, ElementsAre("oncall:expired"));
  EXPECT_EQ(n.pending(), 0u);
}

TEST_F(FakeNotifierTest, RetriesWaitInitialBackoffDoublingUpToMaxBackoff) {
  Notifier& n = Make();
  Load(kHook);
  n.Send(Firing());
  ASSERT_EQ(http_.calls.size(), 1u);  // the first attempt at once
  for (const Duration wait : {1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s}) {
    SCOPED_TRACE(FormatDuration(wait));
    http_.ReplyLast(503);
    EXPECT_FALSE(RequestWithin(wait - 1ms));
    EXPECT_TRUE(RequestWithin(1ms));
  }
  // Each attempt is stamped with the (fake) wall clock at the attempt: 183 s after the first.
  const auto stamp = [&](size_t i) {
    return std::stoll(*http_.calls[i].request.Header("webhook-timestamp"));
  };
  EXPECT_EQ(stamp(8) - stamp(0), 1 + 2 + 4 + 8 + 16 + 32 + 60 + 60);
  EXPECT_EQ(*http_.calls[8].request.Header("webhook-id"),
            *http_.calls[0].request.Header("webhook-id"));
  http_.ReplyLast(200);
  EXPECT_EQ(outcomes_.size(), 9u);
  EXPECT_EQ(outcomes_.back(), "oncall:delivered");
  EXPECT_EQ(n.pending(), 0u);
}

TEST_F(FakeNotifierTest, JitterMovesEachWaitByAtMostTwentyPercent) {
  NotifierOptions o;
  o.max_backoff = 3500ms;
  Notifier& n = Make(o);
  Load(kHook);
  n.Send(Firing());
  jitter_ = 0;  // the shortest: 0.8 x 1 s
  http_.ReplyLast(503);
  EXPECT_FALSE(RequestWithin(799ms));
  EXPECT_TRUE(RequestWithin(1ms));
  jitter_ = 1;  // the longest: 1.2 x 2 s
  http_.ReplyLast(503);
  EXPECT_FALSE(RequestWithin(2399ms));
  EXPECT_TRUE(RequestWithin(1ms));
  jitter_ = 1;  // 1.2 x 4 s is past max_backoff: max_backoff
  http_.ReplyLast(503);
  EXPECT_FALSE(RequestWithin(3499ms));
  EXPECT_TRUE(RequestWithin(1ms));
  jitter_ = 0;  // doubling stopped at 4 s (past max_backoff): 0.8 x 4 s
  http_.ReplyLast(503);
  EXPECT_FALSE(RequestWithin(3199ms));
  EXPECT_TRUE(RequestWithin(1ms));
  EXPECT_EQ(n.pending(), 1u);
}

TEST_F(FakeNotifierTest, MaxAgeEndsRetriesWhenTheNextWouldBeTooLate) {
  Notifier& n = Make();
  Load(
      "[channel.oncall]\ntype = \"webhook\"\nurl = \"http://hooks.example/h\"\n"
      "max_age = \"10s\"\n[[route]]\nchannels = [\"oncall\"]\n");
  n.Send(Firing());
  // Attempts at 0, 1 s, 3 s, 7 s; the next would be at 15 s, past max_age.
  for (const Duration wait : {1s, 2s, 4s}) {
    http_.ReplyLast(0);
    EXPECT_TRUE(RequestWithin(wait));
  }
  http_.ReplyLast(0);
  EXPECT_THAT(outcomes_, ElementsAre("oncall:retrying", "oncall:retrying", "oncall:retrying",
                                     "oncall:expired"));
  EXPECT_EQ(clock_.elapsed(), 7s);
  EXPECT_EQ(n.pending(), 0u);
}

TEST_F(FakeNotifierTest, GroupWaitHoldsAServicesBurstAndSendsItAsOneMessage) {
  Notifier& n = Make();
  Load(R"(
[channel.chat]
type = "slack"
url = "https://hooks.slack.example/T0"
[[route]]
channels = ["chat"]
group_wait = "30s"
)");
  Event latency = Firing();
  latency.trigger = "latency_p99";
  n.Send(At(Firing(), 0s));
  EXPECT_FALSE(RequestWithin(10s));
  n.Send(At(latency, 0s));  // 10 s into the first one's group_wait: goes along
  EXPECT_FALSE(RequestWithin(20s - 1ms));
  EXPECT_TRUE(RequestWithin(1ms));  // group_wait after the first
  ASSERT_EQ(http_.calls.size(), 1u);
  const auto body = nlohmann::json::parse(http_.calls[0].request.body);
  EXPECT_THAT(body["text"].get<std::string>(), HasSubstr("(+1 more)"));

  Event late = Firing();
  late.trigger = "saturation";
  clock_.Advance(5s);
  n.Send(At(late, 0s));  // while the message is in flight: its own group_wait, 30 s from now
  http_.Reply(0, 200);
  EXPECT_THAT(outcomes_, ElementsAre("chat:delivered", "chat:delivered"));
  EXPECT_FALSE(RequestWithin(30s - 1ms));
  EXPECT_TRUE(RequestWithin(1ms));
  EXPECT_THAT(http_.calls[1].request.body, HasSubstr("saturation"));
  EXPECT_THAT(http_.calls[1].request.body, Not(HasSubstr("+1 more")));
  EXPECT_EQ(n.pending(), 1u);
}

TEST_F(FakeNotifierTest, DrainEndsAtItsLimitWhenADeliveryNeverAnswers) {
  Notifier& n = Make();
  Load(kHook);
  n.Send(Firing());
  ASSERT_EQ(http_.calls.size(), 1u);  // never answered
  bool done = false;
  n.Drain(10s, [&] { done = true; });
  clock_.Advance(10s - 1ms);
  EXPECT_FALSE(done);
  clock_.Advance(1ms);
  EXPECT_TRUE(done);
  EXPECT_THAT(outcomes_, ElementsAre("oncall:dropped"));  // no outbox: lost, and said so
  EXPECT_EQ(n.pending(), 0u);
  http_.Reply(0, 200);  // too late: nothing changes
  EXPECT_THAT(outcomes_, ElementsAre("oncall:dropped"));
}

TEST_F(FakeNotifierTest, DrainWaitsForARetryAndCallsDoneOnTheLoop) {
  Notifier& n = Make();
  Load(kHook);
  n.Send(Firing());
  bool done = false;
  n.Drain(10s, [&] { done = true; });
  http_.ReplyLast(503);
  EXPECT_TRUE(RequestWithin(1s));
  http_.ReplyLast(200);
  EXPECT_FALSE(done);  // not from inside the completion
  clock_.Advance(0ms);
  EXPECT_TRUE(done);
  EXPECT_THAT(outcomes_, ElementsAre("oncall:retrying", "oncall:delivered"));
  EXPECT_FALSE(RequestWithin(1h));  // stopped: nothing more, not even a timer
}

TEST_F(FakeNotifierTest, AlertmanagerGetsWhatStillFiresAgainEveryResend) {
  Notifier& n = Make();
  Load(R"(
[channel.am]
type = "alertmanager"
url = "http://am.example:9093/"
resend = "1m"
[[route]]
channels = ["am"]
)");
  n.Send(At(Firing(), 0s));
  ASSERT_EQ(http_.calls.size(), 1u);
  EXPECT_EQ(http_.calls[0].request.url, "http://am.example:9093/api/v2/alerts");
  http_.Reply(0, 200);
  EXPECT_FALSE(RequestWithin(1min - 1ms));
  EXPECT_TRUE(RequestWithin(1ms));
  const auto alerts = nlohmann::json::parse(http_.calls[1].request.body);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["labels"]["alertname"], "error_rate");
  EXPECT_EQ(alerts[0]["endsAt"], Rfc3339(clock_.wall() + 4min));  // 4 x resend ahead
  http_.Reply(1, 200);
  EXPECT_TRUE(RequestWithin(1min));
  EXPECT_EQ(outcomes_.size(), 1u);  // re-sends are not notifications
  EXPECT_EQ(n.pending(), 0u);
}

TEST_F(FakeNotifierTest, CommitSaysWhenTheOutboxCouldNotTakeTheNotificationsAndSendsThemAnyway) {
  char tmpl[] = "/tmp/rollbackd_notifier_timeline.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  Notifier& n = Make();
  std::string error;
  ASSERT_TRUE(n.Open(dir, &error)) << error;
  Load(kHook);
  fs_.fail_appends = true;
  EXPECT_FALSE(n.Commit(n.Prepare({Firing()}), &error));
  EXPECT_EQ(error, "outbox " + dir + "/outbox.jsonl: write: No space left on device");
  EXPECT_EQ(http_.calls.size(), 1u);
  fs_.fail_appends = false;
  Event later = Firing();
  later.service = "search";
  std::string untouched = "untouched";
  EXPECT_TRUE(n.Commit(n.Prepare({later}), &untouched));
  EXPECT_EQ(untouched, "untouched");
  notifier_.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rollbackd
