// The outbox and delivery path, end to end on this machine:
//  - BM_OutboxAppend/N: N notifications appended with one write and one fdatasync (what a round
//    that decided N events costs before anything is sent), in notifications/s.
//  - BM_DeliverWebhook/N: notifications queued through the Notifier in rounds of N events (outbox
//    append + fsync per round), signed, POSTed one at a time to a loopback HTTP receiver (our own
//    Beast server on the same loop) and removed from the outbox on its 2xx: notifications/s
//    delivered, the figure for "how fast does a backlog drain once a receiver is back".
// State lives in a temporary folder under $TMPDIR (or /tmp): fsync cost depends on that disk.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "daemon/config/loader.h"
#include "daemon/notify/notifier.h"
#include "daemon/notify/outbox.h"
#include "daemon/server/http_server.h"
#include "daemon/io/exec_runner.h"
#include "daemon/io/http_client.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;

std::string TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/rollbackd_outbox_bench.XXXXXX";
  const char* made = ::mkdtemp(tmpl.data());
  return made ? made : "/tmp";
}

Event MakeEvent(int i) {
  Event e;
  e.kind = EventKind::kRollbackStarted;
  e.time = Time(std::chrono::milliseconds(1'700'000'000'000 + i));
  e.service = "checkout";
  e.trigger = "error_rate";
  e.severity = Severity::kCritical;
  e.labels = {{"team", "payments"}, {"pod", "checkout-7d9f-" + std::to_string(i % 50)}};
  e.value = 0.31;
  e.threshold = 0.02;
  e.reason = "value 0.31 > 0.02 held 1m >= 1m";
  e.version = "v2";
  e.id = MakeEventId(e.kind, e.service, e.trigger, static_cast<uint64_t>(i), e.time);
  return e;
}

void BM_OutboxAppend(benchmark::State& state) {
  const std::string dir = TempDir();
  std::string error;
  auto outbox = Outbox::Open(RealFileSystem(), dir + "/outbox.jsonl", &error);
  if (!outbox) {
    state.SkipWithError(error.c_str());
    return;
  }
  const int n = static_cast<int>(state.range(0));
  OutboxEntry proto;
  proto.channel = "oncall";
  proto.group = "0/checkout";
  proto.kind = "rollback.started";
  proto.service = "checkout";
  proto.payload = EventToJson(MakeEvent(0));
  int i = 0;
  for (auto _ : state) {
    std::vector<OutboxEntry> batch(static_cast<size_t>(n), proto);
    for (OutboxEntry& e : batch) e.id = "evt_" + std::to_string(i++);
    if (!outbox->Add(&batch, &error)) {
      state.SkipWithError(error.c_str());
      break;
    }
    for (const OutboxEntry& e : batch) outbox->Remove(e.seq, "delivered", &error);
  }
  state.SetItemsProcessed(state.iterations() * n);
  outbox.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_OutboxAppend)->Arg(1)->Arg(10)->Arg(100)->UseRealTime();

void BM_DeliverWebhook(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  const std::string dir = TempDir();
  boost::asio::io_context io;
  size_t received = 0;
  HttpServer server(io, [&](const ServerRequest&) {
    ++received;
    return ServerResponse{204, "text/plain", "", {}, {}};
  });
  std::string error;
  if (!server.Listen("127.0.0.1:0", &error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::filesystem::create_directories(dir);
  {
    FILE* f = std::fopen((dir + "/oncall.secret").c_str(), "w");
    std::fputs("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", f);
    std::fclose(f);
  }
  Diagnostics diags;
  auto config = ParseDaemonConfig(
      "[channel.oncall]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:" +
          std::to_string(server.port()) +
          "/hook\"\nsecret_file = \"oncall.secret\"\n[[route]]\nchannels = [\"oncall\"]\n",
      dir + "/rollbackd.toml", &diags);
  HttpClient http(io);
  ExecRunner exec(io);
  AsioClock clock(io);
  {
    Notifier notifier(http, exec, clock, RealFileSystem());
    std::vector<std::string> errors;
    if (!config || !notifier.Open(dir, &error) || !notifier.Configure(*config, &errors)) {
      state.SkipWithError("setup failed");
      return;
    }
    const int n = static_cast<int>(state.range(0));
    int next = 0;
    for (auto _ : state) {
      std::vector<Event> round;
      for (int i = 0; i < n; ++i) round.push_back(MakeEvent(next++));
      notifier.Send(round);
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      while (notifier.pending() > 0 && std::chrono::steady_clock::now() < deadline) {
        io.run_one_for(100ms);
      }
      if (notifier.pending() > 0) {
        state.SkipWithError("not delivered within 30 s");
        break;
      }
    }
    state.SetItemsProcessed(state.iterations() * n);
    state.counters["received"] = static_cast<double>(received);
  }
  server.Stop();
  io.poll();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_DeliverWebhook)->Arg(1)->Arg(100)->UseRealTime();

}  // namespace
}  // namespace rollbackd

BENCHMARK_MAIN();
