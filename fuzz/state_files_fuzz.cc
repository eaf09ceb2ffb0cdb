// The state dir's readers one by one, without the start around them (state_dir_fuzz.cc runs the
// whole start, a hundred times slower): the input is state.json, journal.jsonl, outbox.jsonl and
// notify.json cut at the part separator (fuzz_util.h), as in state_dir's corpus. Each reader gets
// its file from an in-memory file system; what it reads must make sense.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/actions/journal.h"
#include "daemon/config/loader.h"
#include "daemon/engine/engine.h"
#include "daemon/notify/dispatcher.h"
#include "daemon/notify/outbox.h"
#include "fuzz/fuzz_util.h"
#include "testing/fake_file_system.h"

namespace {

using namespace rollbackd;

constexpr const char* kDaemon = R"(
[channel.hook]
type = "webhook"
url = "http://127.0.0.1:1/events"
[channel.am]
type = "alertmanager"
url = "http://127.0.0.1:1"
[[route]]
channels = ["hook", "am"]
)";

std::shared_ptr<const Config>* config = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  Diagnostics diags;
  auto c = ParseDaemonConfig(kDaemon, "/fuzz/rollbackd.toml", &diags);
  auto s = ParseRuleFile(fuzz::kWebRule, "/fuzz/web.toml", &diags);
  if (!c || !s) fuzz::Fail("the fuzz target's configuration does not load");
  c->services.push_back(std::move(*s));
  config = new std::shared_ptr<const Config>(std::make_shared<const Config>(std::move(*c)));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = fuzz::SplitInput(data, size, 4);
  const Time now{std::chrono::seconds(1'800'000'000)};
  std::string error;

  Engine engine(*config);
  if (engine.RestoreState(parts[0], &error)) {
    Engine again(*config);
    if (!again.RestoreState(engine.SaveState(), &error)) {
      fuzz::Fail("restored state does not restore: " + error);
    }
  } else if (error.empty()) {
    fuzz::Fail("a state file refused without a reason");
  }

  testing::FakeFileSystem fs;
  fs.Put("/s/journal.jsonl", std::string(parts[1]));
  error.clear();
  if (auto journal = Journal::Open(fs, "/s/journal.jsonl", &error)) {
    for (const JournalIntent& intent : journal->Unfinished()) {
      if (!journal->Knows(intent.rollback_id)) fuzz::Fail("an unfinished intent it does not know");
      if (journal->Outcome(intent.rollback_id)) fuzz::Fail("an unfinished intent with an outcome");
    }
    // Reopening what Open compacted reads the same.
    const size_t unfinished = journal->Unfinished().size();
    journal.reset();
    auto again = Journal::Open(fs, "/s/journal.jsonl", &error);
    if (!again || again->Unfinished().size() != unfinished) {
      fuzz::Fail("the compacted journal reads differently: " + error);
    }
  } else if (error.empty()) {
    fuzz::Fail("a journal refused without a reason");
  }

  fs.Put("/s/outbox.jsonl", std::string(parts[2]));
  error.clear();
  if (auto outbox = Outbox::Open(fs, "/s/outbox.jsonl", &error)) {
    const size_t live = outbox->live();
    const std::vector<OutboxEntry> loaded = outbox->TakeLoaded();
    if (loaded.size() != live) fuzz::Fail("loaded entries differ from live ones");
    outbox.reset();
    auto again = Outbox::Open(fs, "/s/outbox.jsonl", &error);
    if (!again || again->live() != live) {
      fuzz::Fail("the compacted outbox reads differently: " + error);
    }
  } else if (error.empty()) {
    fuzz::Fail("an outbox refused without a reason");
  }

  Dispatcher dispatcher(**config);
  error.clear();
  if (dispatcher.RestoreState(std::string(parts[3]), now, &error)) {
    Dispatcher again(**config);
    if (!again.RestoreState(dispatcher.SaveState(), now, &error)) {
      fuzz::Fail("restored notify.json does not restore: " + error);
    }
    (void)dispatcher.Due(now + std::chrono::hours(1));
  }
  return 0;
}
