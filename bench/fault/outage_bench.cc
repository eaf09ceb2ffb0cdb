// A receiver that rejects everything, for a simulated day (issue 17, "bounded under a permanent
// fault"): the real Notifier and outbox on this machine's disk, a webhook channel whose every
// attempt is answered 503, and RATE notifications a second for HOURS simulated hours on a fake
// clock, so a day takes a minute or so (the outbox's appends and fsyncs are real).
//
// Checked every simulated hour, and the exit status says whether all held:
//  - the outbox holds at most [outbox].max_entries notifications and max_bytes live bytes, and its
//    file stays within a few times max_bytes (compaction);
//  - every notification decided is accounted for: delivered + rejected + expired + dropped +
//    pending = decided (nothing vanishes silently), and the drops are counted;
//  - memory is flat: the peak RSS at the end is within 8 MiB of the peak after the first hours,
//    once the outbox was full (the queue is bounded, so memory must be).
//
//   outage_bench [--hours 24] [--rate 10] [--max-entries 10000] [--out FILE.json]
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/config/loader.h"
#include "daemon/engine/event.h"
#include "daemon/io/file_system.h"
#include "daemon/notify/notifier.h"
#include "testing/fake_clock.h"
#include "testing/fakes.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// VmRSS and VmHWM of this process, in KiB.
std::pair<long, long> Rss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  long rss = 0, hwm = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::atol(line.c_str() + 6);
  }
  return {rss, hwm};
}

// Notification n: services flapping, each firing and resolved again the next second, so that
// what the dispatcher holds as firing stays small and the outbox is what is measured.
Event Flap(uint64_t n, Time at) {
  Event e;
  e.kind = (n / 10) % 2 == 0 ? EventKind::kTriggerFiring : EventKind::kTriggerResolved;
  e.time = at;
  e.service = "svc-" + std::to_string(n % 10);
  e.trigger = "error_rate";
  e.severity = Severity::kCritical;
  e.labels = {{"team", "payments"}, {"env", "prod"}};
  e.value = 0.31;
  e.threshold = 0.02;
  e.reason = "value 0.31 > 0.02 held 1m >= 1m";
  e.version = "v2";
  e.id = MakeEventId(e.kind, e.service, e.trigger, n, e.time);
  return e;
}

struct Args {
  int hours = 24;
  int rate = 10;
  size_t max_entries = 10000;
  std::string out;
};

bool Parse(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    if (k == "--hours") {
      a->hours = std::atoi(v.c_str());
    } else if (k == "--rate") {
      a->rate = std::atoi(v.c_str());
    } else if (k == "--max-entries") {
      a->max_entries = static_cast<size_t>(std::atol(v.c_str()));
    } else if (k == "--out") {
      a->out = v;
    } else {
      return false;
    }
  }
  return a->hours > 0 && a->rate > 0 && a->max_entries > 0;
}

int Main(int argc, char** argv) {
  Args args;
  if (!Parse(argc, argv, &args)) {
    std::fprintf(stderr,
                 "usage: outage_bench [--hours N] [--rate N] [--max-entries N] [--out FILE]\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::off);  // a line per drop would be the benchmark
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/rollbackd_outage_bench.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 2;
  }
  const std::string dir = tmpl;
  const uint64_t max_bytes = 64ull << 20;
  Diagnostics diags;
  auto config = ParseDaemonConfig(
      "[outbox]\nmax_entries = " + std::to_string(args.max_entries) +
          "\n[channel.oncall]\ntype = \"webhook\"\nurl = \"http://receiver.invalid/hook\"\n"
          "[[route]]\nchannels = [\"oncall\"]\n",
      dir + "/rollbackd.toml", &diags);
  if (!config) {
    std::fprintf(stderr, "config: %s\n",
                 diags.all().empty() ? "?" : diags.all()[0].ToString().c_str());
    return 2;
  }

  boost::asio::io_context io;
  testing::FakeClock clock(&io);
  testing::FakeHttpTransport http(io);
  uint64_t attempts = 0;
  http.respond = [&](const HttpRequest&) {
    ++attempts;
    HttpResponse r;
    r.status = 503;
    return r;
  };
  testing::FakeProcessRunner exec(io);
  std::map<std::string, uint64_t> ended;  // delivered, rejected, expired, dropped
  uint64_t retrying = 0;
  json hours = json::array();
  bool ok = true;
  uint64_t decided = 0;
  long hwm_full = 0;
  std::string failure;
  {
    Notifier notifier(http, exec, clock, RealFileSystem());
    notifier.SetObserver([&](std::string_view, std::string_view result) {
      if (result == "retrying") {
        ++retrying;
      } else {
        ++ended[std::string(result)];
      }
    });
    std::string error;
    std::vector<std::string> errors;
    if (!notifier.Open(dir, &error) || !notifier.Configure(*config, &errors)) {
      std::fprintf(stderr, "setup: %s%s\n", error.c_str(), errors.empty() ? "" : errors[0].c_str());
      return 2;
    }
    std::printf("%5s %10s %9s %10s %11s %9s %9s %9s %8s %8s\n", "hour", "decided", "pending",
                "live_MiB", "file_MiB", "dropped", "expired", "attempts", "rss_MiB", "hwm_MiB");
    const auto started = std::chrono::steady_clock::now();
    for (int hour = 1; hour <= args.hours && ok; ++hour) {
      for (int s = 0; s < 3600; ++s) {
        std::vector<Event> events;
        for (int i = 0; i < args.rate; ++i) {
          events.push_back(
              Flap(decided++, std::chrono::time_point_cast<Duration>(clock.WallNow())));
        }
        if (!notifier.Commit(notifier.Prepare(events), &error)) {
          failure = "outbox: " + error;
          ok = false;
          break;
        }
        clock.Advance(1s);
        http.requests.clear();  // the fake keeps every request it was sent; not ours to measure
      }
      const size_t pending = notifier.pending();
      const uint64_t live = notifier.outbox_bytes();
      std::error_code ec;
      const uint64_t file = std::filesystem::file_size(dir + "/outbox.jsonl", ec);
      const auto [rss, hwm] = Rss();
      uint64_t accounted = pending;
      for (const auto& [result, n] : ended) accounted += n;
      std::printf("%5d %10llu %9zu %10.1f %11.1f %9llu %9llu %9llu %8.1f %8.1f\n", hour,
                  static_cast<unsigned long long>(decided), pending, live / 1048576.0,
                  file / 1048576.0, static_cast<unsigned long long>(ended["dropped"]),
                  static_cast<unsigned long long>(ended["expired"]),
                  static_cast<unsigned long long>(attempts), rss / 1024.0, hwm / 1024.0);
      std::fflush(stdout);
      hours.push_back({{"hour", hour},
                       {"decided", decided},
                       {"pending", pending},
                       {"live_bytes", live},
                       {"file_bytes", file},
                       {"dropped", ended["dropped"]},
                       {"expired", ended["expired"]},
                       {"delivered", ended["delivered"]},
                       {"attempts", attempts},
                       {"retrying", retrying},
                       {"rss_kib", rss},
                       {"hwm_kib", hwm}});
      if (pending > args.max_entries) failure = "more pending than max_entries";
      if (live > max_bytes) failure = "more live bytes than max_bytes";
      if (file > 4 * max_bytes) failure = "the outbox file outgrew 4 x max_bytes";
      if (accounted != decided) {
        failure = "notifications unaccounted for: " + std::to_string(decided - accounted);
      }
      if (ended["delivered"] != 0) failure = "delivered to a receiver that rejects everything";
      // The queue is full from the first hours on (rate x 3600 > max_entries at the defaults):
      // from then on memory must not grow.
      if (hour == std::min(args.hours, 3)) hwm_full = hwm;
      if (hour > 3 && hwm > hwm_full + 8 * 1024) failure = "memory grows: peak RSS up 8 MiB";
      if (!failure.empty()) ok = false;
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("%d simulated hours at %d notifications/s in %.1f s of wall time\n", args.hours,
                args.rate, wall);
    if (ended["dropped"] == 0 && decided > args.max_entries) {
      failure = "a full outbox dropped nothing";
      ok = false;
    }
  }
  std::filesystem::remove_all(dir);
  if (!args.out.empty()) {
    std::ofstream(args.out) << json{{"hours", hours},
                                    {"rate", args.rate},
                                    {"max_entries", args.max_entries},
                                    {"ok", ok},
                                    {"failure", failure}}
                                   .dump(1)
                            << "\n";
  }
  if (!ok) {
    std::printf("FAILED: %s\n", failure.c_str());
    return 1;
  }
  std::printf("ok: bounded, every notification accounted for\n");
  return 0;
}

}  // namespace
}  // namespace rollbackd

int main(int argc, char** argv) { return rollbackd::Main(argc, argv); }
