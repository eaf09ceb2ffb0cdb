// A damaged state_dir must never crash a start. The input is the four files the daemon reads from
// it at start, cut at the part separator (fuzz_util.h): state.json, journal.jsonl, outbox.jsonl and
// notify.json. They are put in an in-memory file system and the daemon's start runs on them in the
// daemon's order (daemon/runtime/daemon.cc Start): the state store (lock, journal, decision log),
// the notifier (outbox, notify.json), the configuration, the engine's state, the journal set
// against it, then three minutes of the notifier delivering what it read to fake receivers.
//
// ROLLBACKD_FUZZ_WRITE_SEED=FILE writes such an input from a real run (a trigger fires, its
// rollback is in flight, notifications wait in the outbox) and exits: fuzz/corpus/state_dir/.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config/loader.h"
#include "daemon/notify/notifier.h"
#include "daemon/runtime/recovery.h"
#include "daemon/runtime/state_store.h"
#include "fuzz/fuzz_util.h"
#include "testing/fake_clock.h"
#include "testing/fake_file_system.h"
#include "testing/fakes.h"

namespace {

using namespace rollbackd;
namespace fs = std::filesystem;

constexpr const char* kDir = "/state";
constexpr const char* kFiles[] = {"state.json", "journal.jsonl", "outbox.jsonl", "notify.json"};

constexpr const char* kDaemonConfig = R"(
[daemon]
state_dir = "/state"
rules = ["web.toml", "checkout.toml"]

[prometheus.default]
url = "http://127.0.0.1:1"

[channel.hook]
type = "webhook"
url = "http://127.0.0.1:1/events"

[channel.chat]
type = "slack"
url = "http://127.0.0.1:1/slack"

[channel.am]
type = "alertmanager"
url = "http://127.0.0.1:1"

[[route]]
channels = ["hook", "chat", "am"]
)";

std::shared_ptr<const Config>* config = nullptr;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// The effects a start needs, all fakes; the receivers answer 200.
struct World {
  boost::asio::io_context io;
  testing::FakeClock clock{&io};
  testing::FakeFileSystem files;
  testing::FakeHttpTransport http{io};
  testing::FakeProcessRunner exec{io};
  Time Now() { return std::chrono::time_point_cast<std::chrono::milliseconds>(clock.WallNow()); }
};

// A real run's state_dir: "errors" breaches, fires, and its rollback starts (the hook never ends);
// each event goes to the three channels.
std::string MakeSeed() {
  World w;
  StateStore store(w.files);
  std::string err;
  if (!store.Open(kDir, &err)) fuzz::Fail(err);
  Notifier notifier(w.http, w.exec, w.clock, w.files);
  std::vector<std::string> errors;
  if (!notifier.Open(kDir, &err) || !notifier.Configure(**config, &errors)) fuzz::Fail(err);
  Engine engine(*config);
  QueryResult breach;
  breach.series.push_back({Labels(), 0.9});
  for (int round = 0; round < 4; ++round) {
    std::vector<Event> events;
    Inputs inputs(engine.inputs().size(), &breach);
    engine.Evaluate(w.Now(), inputs, &events);
    for (const Event& e : events) {
      if (e.kind == EventKind::kRollbackStarted) {
        const std::string id = e.rollback_id.empty() ? e.id : e.rollback_id;
        JournalIntent intent{id, e.service, e.trigger, w.Now(), {"/bin/rollback"}, ""};
        if (!store.journal().RecordIntent(intent, &err)) fuzz::Fail(err);
      }
    }
    notifier.Send(events);
    if (!store.Save(engine.SaveState(), {}, &err)) fuzz::Fail(err);
    w.clock.Advance(std::chrono::seconds(10));
  }
  std::string seed;
  for (const char* name : kFiles) {
    if (!seed.empty()) seed += fuzz::kPartSeparator;
    seed += w.files.Contents(std::string(kDir) + "/" + name).value_or("");
  }
  return seed;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  char tmpl[] = "/tmp/rollbackd-fuzz-state-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) fuzz::Fail("mkdtemp");
  const std::string dir = tmpl;
  WriteFile(dir + "/rollbackd.toml", kDaemonConfig);
  // fuzz::kWebRule, its rollback with a timeout and a verify window.
  WriteFile(dir + "/web.toml", std::string(fuzz::kWebRule) + "timeout = \"1m\"\nverify = \"2s\"\n");
  fs::copy_file(ROLLBACKD_SOURCE_DIR "/rules/checkout.toml", dir + "/checkout.toml");
  Diagnostics diags;
  auto loaded = LoadConfig(dir + "/rollbackd.toml", &diags);
  fs::remove_all(dir);
  if (!loaded || diags.has_errors()) {
    for (const Diagnostic& d : diags.Sorted()) std::fprintf(stderr, "%s\n", d.ToString().c_str());
    fuzz::Fail("the fuzz target's configuration does not load");
  }
  config = new std::shared_ptr<const Config>(std::make_shared<const Config>(std::move(*loaded)));
  if (const char* out = std::getenv("ROLLBACKD_FUZZ_WRITE_SEED")) {
    WriteFile(out, MakeSeed());
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = fuzz::SplitInput(data, size, std::size(kFiles));
  World w;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].empty()) w.files.Put(std::string(kDir) + "/" + kFiles[i], std::string(parts[i]));
  }
  std::string err;
  StateStore store(w.files);
  if (!store.Open(kDir, &err)) return 0;  // a damaged journal stops the start, with the reason
  Notifier notifier(w.http, w.exec, w.clock, w.files);
  std::vector<std::string> errors;
  if (!notifier.Open(kDir, &err)) return 0;
  if (!notifier.Configure(**config, &errors)) fuzz::Fail("Configure: " + errors.front());
  Engine engine(*config);
  std::vector<OutboxEntry> pending;
  if (!store.Restore(engine, &pending, &err)) {
    if (err.empty()) fuzz::Fail("a state file refused without a reason");
    return 0;
  }
  notifier.Recover(std::move(pending));
  std::vector<Event> events;
  ReconcileJournal(engine, store.journal(), w.Now(), &events);
  notifier.Send(events);
  // What was restored must save and restore again (the next start reads it).
  const std::string saved = engine.SaveState();
  Engine again(*config);
  if (!again.RestoreState(saved, &err)) fuzz::Fail("restored state does not restore: " + err);
  w.clock.Advance(std::chrono::minutes(3), 100'000);
  return 0;
}
