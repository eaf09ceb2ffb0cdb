#include "daemon/notify/notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <random>

#include "daemon/notify/channel_sender.h"
#include "daemon/notify/deliverer.h"
#include "daemon/notify/dispatcher.h"
#include "daemon/notify/outbox.h"

namespace rollbackd {
namespace {

constexpr const char* kOutboxFile = "outbox.jsonl";
constexpr const char* kStateFile = "notify.json";

// Moves a file that cannot be read aside, so that it can be looked at and a new one started.
std::string MoveAside(FileSystem& fs, const std::string& path) {
  const std::string aside = path + ".unreadable";
  std::string error;
  return fs.Rename(path, aside, &error) ? aside : path;
}

}  // namespace

std::function<double()> RandomJitter() {
  auto rng = std::make_shared<std::minstd_rand>(std::random_device{}());
  return [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
}

struct Notifier::Impl {
  Impl(HttpTransport& http, ProcessRunner& exec, Clock& clock, FileSystem& fs,
       NotifierOptions options)
      : clock(clock),
        fs(fs),
        deliverer(std::make_shared<Deliverer>(http, exec, clock, std::move(options))),
        repeat_timer(clock.NewTimer()) {}

  ~Impl() {
    deliverer.reset();  // while the outbox and the dispatcher it points to are still there
  }

  Time Now() { return std::chrono::time_point_cast<Duration>(clock.WallNow()); }

  void Handle(Dispatch d) {
    for (const Dispatch::LogNote& l : d.logs) {
      spdlog::info("notification to channel {}: {}", l.channel, l.payload);
      deliverer->Report(l.channel, DeliveryOutcome::kDelivered);
    }
    deliverer->Enqueue(std::move(d.queued));
    SaveState();
    ScheduleRepeat();
  }

  // Repeats of what still fires (the dispatcher says when), until a drain stops the deliverer.
  void ScheduleRepeat() {
    repeat_timer->Cancel();
    if (!dispatcher || deliverer->stopped()) return;
    const std::optional<Time> next = dispatcher->NextDue();
    if (!next) return;
    clock.After(*repeat_timer, std::max(*next - Now(), Duration(0)) + Duration(1), [this] {
      if (dispatcher && !deliverer->stopped()) Handle(dispatcher->Due(Now()));
    });
  }

  void SaveState() {
    if (!dispatcher || !dispatcher->TakeChanged() || state_dir.empty()) return;
    std::string error;
    if (!fs.WriteFileAtomically(state_dir + "/" + kStateFile, dispatcher->SaveState(), &error)) {
      spdlog::error("cannot save {}/{}: {} (repeats and resolutions of what fires now may be "
                    "missed after a restart)",
                    state_dir, kStateFile, error);
    }
  }

  Clock& clock;
  FileSystem& fs;
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<Dispatcher> dispatcher;
  std::shared_ptr<Deliverer> deliverer;  // shared: late completions hold a weak_ptr
  std::vector<OutboxEntry> loaded;       // read at Open, queued at the first Configure
  std::string loaded_state;              // notify.json read at Open
  std::string state_dir;
  std::unique_ptr<Timer> repeat_timer;
};

Notifier::Notifier(HttpTransport& http, ProcessRunner& exec, Clock& clock, FileSystem& fs,
                   NotifierOptions options)
    : impl_(std::make_unique<Impl>(http, exec, clock, fs, std::move(options))) {}

Notifier::~Notifier() = default;

bool Notifier::Open(const std::string& state_dir, std::string* error) {
  Impl& m = *impl_;
  const std::string path = state_dir + "/" + kOutboxFile;
  m.outbox = Outbox::Open(m.fs, path, error);
  if (!m.outbox) {
    // Rollbacks matter more than notifications: keep the damaged file for people, start anew.
    const std::string aside = MoveAside(m.fs, path);
    spdlog::error("outbox {} is unreadable: {}; moved to {}, starting with an empty outbox", path,
                  *error, aside);
    m.outbox = Outbox::Open(m.fs, path, error);
    if (!m.outbox) return false;
  }
  m.deliverer->set_outbox(m.outbox.get());
  m.loaded = m.outbox->TakeLoaded();
  m.state_dir = state_dir;
  const std::string state_path = state_dir + "/" + kStateFile;
  std::string state_error;
  if (m.fs.ReadFile(state_path, &m.loaded_state, &state_error) == FileSystem::Read::kError) {
    m.loaded_state.clear();
    spdlog::error("cannot read {}: {} (repeats and resolutions of what fired before the restart "
                  "are forgotten)",
                  state_path, state_error);
  }
  if (!m.loaded.empty()) {
    spdlog::info("outbox {}: {} notification(s) from before the restart to send", path,
                 m.loaded.size());
  }
  return true;
}

bool Notifier::Configure(const Config& config, std::vector<std::string>* errors) {
  Impl& m = *impl_;
  const size_t errors_before = errors->size();
  auto channels = LoadChannelSpecs(config, errors);
  for (size_t i = 0; i < config.routes.size(); ++i) {
    for (const std::string& name : config.routes[i].channels) {
      if (channels.count(name) == 0) {
        errors->push_back("route[" + std::to_string(i) + "].channels: unknown channel " + name);
      }
    }
  }
  if (errors->size() != errors_before) return false;

  const Time now = m.Now();
  auto dispatcher = std::make_unique<Dispatcher>(config);
  if (m.dispatcher) {
    dispatcher->CarryOver(*m.dispatcher, now);
  } else if (!m.loaded_state.empty()) {
    std::string error;
    if (!dispatcher->RestoreState(m.loaded_state, now, &error)) {
      const std::string path = m.state_dir + "/" + kStateFile;
      spdlog::error("{}: {}; moved to {}: repeats and resolutions of what fired before the "
                    "restart are not sent",
                    path, error, MoveAside(m.fs, path));
    }
    m.loaded_state.clear();
  }
  m.dispatcher = std::move(dispatcher);
  m.deliverer->Configure(std::move(channels), config.outbox, *m.dispatcher);
  m.deliverer->Requeue(std::move(m.loaded));  // what the outbox held at start
  m.loaded.clear();
  m.SaveState();
  m.ScheduleRepeat();
  return true;
}

std::vector<OutboxEntry> Notifier::Prepare(const std::vector<Event>& events) {
  Impl& m = *impl_;
  if (!m.dispatcher) return {};
  const Time now = m.Now();
  Dispatch all;
  for (const Event& e : events) {
    Dispatch d = m.dispatcher->OnEvent(e, now);
    for (auto& l : d.logs) all.logs.push_back(std::move(l));
    for (auto& q : d.queued) all.queued.push_back(std::move(q));
  }
  std::vector<OutboxEntry> queued = std::move(all.queued);
  all.queued.clear();
  m.Handle(std::move(all));  // log channels, the dispatcher's state, repeats
  return queued;
}

bool Notifier::Commit(std::vector<OutboxEntry> entries, std::string* error) {
  return impl_->deliverer->Enqueue(std::move(entries), error);
}

size_t Notifier::Recover(std::vector<OutboxEntry> entries) {
  Impl& m = *impl_;
  std::vector<OutboxEntry> missing;
  for (OutboxEntry& e : entries) {
    if (!m.deliverer->HasLane(e.channel)) continue;
    const bool queued = m.deliverer->Holds(e.channel, e.id);
    const bool sent = m.outbox != nullptr && m.outbox->SeenAtOpen(e.channel, e.id);
    if (!queued && !sent) missing.push_back(std::move(e));
  }
  const size_t n = missing.size();
  if (n > 0) {
    spdlog::warn("{} notification(s) of the last round before the restart were not in the outbox "
                 "yet; queued now (a receiver may get one twice, with the same id)",
                 n);
  }
  m.deliverer->Enqueue(std::move(missing));
  return n;
}

bool Notifier::Holds(const std::string& channel, const std::string& id) const {
  return impl_->deliverer->Holds(channel, id);
}

size_t Notifier::pending() const { return impl_->deliverer->pending(); }

std::map<std::string, size_t> Notifier::PendingByChannel() const {
  return impl_->deliverer->PendingByChannel();
}

uint64_t Notifier::outbox_bytes() const {
  return impl_->outbox ? impl_->outbox->live_bytes() : 0;
}

void Notifier::SetEndObserver(std::function<void(const OutboxEntry&)> ended) {
  impl_->deliverer->set_ended(std::move(ended));
}

void Notifier::SetObserver(DeliveryObserver observer) {
  impl_->deliverer->set_observer(std::move(observer));
}

void Notifier::Drain(Duration limit, std::function<void()> done) {
  impl_->deliverer->Drain(limit, std::move(done));
}

}  // namespace rollbackd
