#include "daemon/notify/notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "daemon/io/exec_runner.h"
#include "daemon/notify/dispatcher.h"
#include "daemon/notify/outbox.h"
#include "daemon/notify/render.h"
#include "daemon/io/signing.h"

namespace rollbackd {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

constexpr size_t kLoggedBodyBytes = 200;
constexpr const char* kOutboxFile = "outbox.jsonl";
constexpr const char* kStateFile = "notify.json";

// A receiver's response body is not ours: cut it short and keep it on one log line.
std::string Snippet(std::string_view body) {
  std::string out(body.substr(0, kLoggedBodyBytes));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// 408 and 429 say "not now"; 5xx says the receiver failed. Anything else will not change.
bool Retryable(int status) { return status == 408 || status == 429 || status >= 500; }

int64_t Seconds(Time t) {
  return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

// Moves a file that cannot be read aside, so that it can be looked at and a new one started.
std::string MoveAside(FileSystem& fs, const std::string& path) {
  const std::string aside = path + ".unreadable";
  std::string error;
  return fs.Rename(path, aside, &error) ? aside : path;
}

}  // namespace

struct Notifier::Impl : std::enable_shared_from_this<Impl> {
  struct ChannelState {
    Channel config;
    std::optional<std::string> key;
    ChannelTemplates templates;
  };

  struct Item {
    OutboxEntry entry;
    int attempts = 0;
  };

  // One channel's notifications, in order; one attempt at a time.
  struct Queue {
    explicit Queue(asio::io_context& io) : timer(io), resend_timer(io) {}
    std::string name;
    std::shared_ptr<const ChannelState> channel;
    std::deque<Item> items;
    std::vector<uint64_t> batch;  // the seqs of the attempt in flight; empty when idle
    uint64_t attempt_id = 0;      // tells a late completion from the current one
    bool waiting = false;         // for a backoff or a group_wait
    std::string last_error;
    asio::steady_timer timer;
    asio::steady_timer resend_timer;  // alertmanager: firing alerts are sent again
    bool resend_in_flight = false;
  };

  Impl(asio::io_context& io, HttpTransport& http, ProcessRunner& exec, NotifierOptions options)
      : io(io),
        http(http),
        exec(exec),
        options(std::move(options)),
        rng(std::random_device{}()),
        repeat_timer(io),
        drain_timer(io) {}

  ~Impl() {
    if (outbox == nullptr) {
      for (const auto& [name, q] : queues) {
        for (const Item& i : q->items) {
          spdlog::warn("notification to channel {} lost at shutdown: {}", name, Describe(i));
        }
      }
    }
  }

  Time Now() const { return options.clock(); }

  static std::string Describe(const Item& i) {
    return i.entry.kind + " of service " + i.entry.service + ", notification " + i.entry.id;
  }

  void Report(std::string_view channel, std::string_view result) {
    if (observer) observer(channel, result);
  }

  // ---- queueing ----------------------------------------------------------------------------

  void Handle(Dispatch d) {
    for (const Dispatch::LogNote& l : d.logs) {
      spdlog::info("notification to channel {}: {}", l.channel, l.payload);
      Report(l.channel, "delivered");
    }
    Enqueue(std::move(d.queued));
    SaveState();
    ScheduleRepeat();
  }

  bool Enqueue(std::vector<OutboxEntry> entries, std::string* error_out = nullptr) {
    if (entries.empty()) return true;
    MakeRoom(entries);
    bool durable = true;
    if (outbox) {
      std::string error;
      if (!outbox->Add(&entries, &error)) {
        spdlog::error("outbox {}: {}; {} notification(s) kept in memory only", outbox->path(),
                      error, entries.size());
        if (error_out) *error_out = "outbox " + outbox->path() + ": " + error;
        durable = false;
      }
    } else {
      for (OutboxEntry& e : entries) e.seq = next_seq++;
    }
    std::set<std::string> touched;
    for (OutboxEntry& e : entries) {
      auto it = queues.find(e.channel);
      if (it == queues.end()) continue;  // the dispatcher only names configured channels
      touched.insert(e.channel);
      it->second->items.push_back(Item{std::move(e), 0});
    }
    for (const std::string& name : touched) Pump(name);
    return durable;
  }

  // The outbox is bounded: the oldest notifications that are not being sent make room.
  void MakeRoom(const std::vector<OutboxEntry>& incoming) {
    uint64_t bytes = 0;
    for (const OutboxEntry& e : incoming) bytes += e.bytes();
    size_t count = pending_count() + incoming.size();
    uint64_t total = pending_bytes() + bytes;
    while (count > limits.max_entries || total > limits.max_bytes) {
      Queue* oldest = nullptr;
      size_t index = 0;
      for (auto& [name, q] : queues) {
        for (size_t i = 0; i < q->items.size(); ++i) {
          const Item& item = q->items[i];
          if (InBatch(*q, item.entry.seq)) continue;
          if (oldest == nullptr || item.entry.seq < oldest->items[index].entry.seq) {
            oldest = q.get();
            index = i;
          }
          break;  // the first that is not in flight is this queue's oldest
        }
      }
      if (oldest == nullptr) break;  // everything left is in flight
      total -= std::min(total, oldest->items[index].entry.bytes());
      --count;
      Finish(*oldest, index, "dropped",
             "the outbox is full (max_entries " + std::to_string(limits.max_entries) +
                 ", max_bytes " + std::to_string(limits.max_bytes) + ")");
    }
  }

  size_t pending_count() const {
    size_t n = 0;
    for (const auto& [name, q] : queues) n += q->items.size();
    return n;
  }
  uint64_t pending_bytes() const {
    uint64_t n = 0;
    for (const auto& [name, q] : queues) {
      for (const Item& i : q->items) n += i.entry.bytes();
    }
    return n;
  }

  static bool InBatch(const Queue& q, uint64_t seq) {
    return std::find(q.batch.begin(), q.batch.end(), seq) != q.batch.end();
  }

  // Removes item `index` of `q`: it was delivered, rejected, expired or dropped.
  void Finish(Queue& q, size_t index, std::string_view result, const std::string& why) {
    Item item = std::move(q.items[index]);
    q.items.erase(q.items.begin() + static_cast<std::ptrdiff_t>(index));
    if (outbox) {
      std::string error;
      if (!outbox->Remove(item.entry.seq, result, &error)) {
        spdlog::error("outbox {}: {} (the notification may be sent again after a restart)",
                      outbox->path(), error);
      }
    }
    if (result == "delivered") {
      spdlog::debug("notification to channel {} delivered: {}", q.name, Describe(item));
    } else {
      spdlog::warn("notification to channel {} {} after {} attempt{}: {}; {}{}", q.name, result,
                   item.attempts, item.attempts == 1 ? "" : "s", Describe(item), why,
                   q.last_error.empty() || result == "dropped" ? ""
                                                               : "; last error: " + q.last_error);
    }
    Report(q.name, result);
  }

  void FinishSeq(Queue& q, uint64_t seq, std::string_view result, const std::string& why) {
    for (size_t i = 0; i < q.items.size(); ++i) {
      if (q.items[i].entry.seq == seq) {
        Finish(q, i, result, why);
        return;
      }
    }
  }

  // ---- sending -----------------------------------------------------------------------------

  Duration MaxAge(const Channel& c) const { return c.max_age.value_or(limits.max_age); }

  void Pump(const std::string& name) {
    auto it = queues.find(name);
    if (it == queues.end()) return;
    Queue& q = *it->second;
    if (stopped || !q.batch.empty() || q.waiting) return;
    const Channel& c = q.channel->config;
    const Time now = Now();
    while (!q.items.empty()) {
      const Item& head = q.items.front();
      if (now - head.entry.created > MaxAge(c)) {
        Finish(q, 0, "expired", "older than max_age " + FormatDuration(MaxAge(c)));
        continue;
      }
      break;
    }
    if (q.items.empty()) {
      CheckDrained();
      return;
    }
    const Item& head = q.items.front();
    if (head.entry.not_before > now) {
      Wait(q, head.entry.not_before - now);
      return;
    }
    // The batch: the head, and for channels that carry several the notifications of its group
    // that were queued before its group_wait ended.
    q.batch = {head.entry.seq};
    const bool groups = c.type == ChannelType::kSlack || c.type == ChannelType::kAlertmanager;
    if (groups) {
      for (size_t i = 1; i < q.items.size() && q.batch.size() < options.max_batch; ++i) {
        const OutboxEntry& e = q.items[i].entry;
        if (e.group == head.entry.group && e.created <= head.entry.not_before) {
          q.batch.push_back(e.seq);
        }
      }
    }
    Attempt(q, now);
  }

  void Wait(Queue& q, Duration delay) {
    q.waiting = true;
    q.timer.expires_after(std::max(delay, Duration(0)));
    q.timer.async_wait([weak = weak_from_this(), name = q.name](boost::system::error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self) return;
      auto it = self->queues.find(name);
      if (it == self->queues.end()) return;
      it->second->waiting = false;
      self->Pump(name);
    });
  }

  std::vector<const Item*> BatchItems(const Queue& q) const {
    std::vector<const Item*> out;
    for (const Item& i : q.items) {
      if (InBatch(q, i.entry.seq)) out.push_back(&i);
    }
    return out;
  }

  void Attempt(Queue& q, Time now) {
    const uint64_t attempt = ++q.attempt_id;
    const ChannelState& ch = *q.channel;
    const Channel& c = ch.config;
    const std::vector<const Item*> items = BatchItems(q);
    auto on_http = [weak = weak_from_this(), name = q.name, attempt](HttpResponse r) {
      auto self = weak.lock();
      if (!self) return;
      if (r.ok()) {
        self->OnResult(name, attempt, true, false, "");
        return;
      }
      std::string error;
      if (r.status == 0) {
        error = r.error;
      } else {
        error = "HTTP " + std::to_string(r.status);
        if (!r.body.empty()) error += ": " + Snippet(r.body);
      }
      self->OnResult(name, attempt, false, r.status == 0 || Retryable(r.status), error);
    };
    switch (c.type) {
      case ChannelType::kWebhook: {
        const Item& i = *items.front();
        http.Send(SignedJsonPost(c.url, i.entry.payload, i.entry.id, ch.key, Seconds(now),
                                 c.timeout),
                  on_http);
        return;
      }
      case ChannelType::kSlack: {
        std::vector<json> events;
        for (const Item* i : items) events.push_back(json::parse(i->entry.payload, nullptr, false));
        std::vector<const json*> refs;
        for (const json& e : events) refs.push_back(&e);
        http.Send(JsonPost(c.url, SlackBody(refs, ch.templates, dispatcher->external_url()),
                           c.timeout),
                  on_http);
        return;
      }
      case ChannelType::kAlertmanager: {
        std::vector<json> alerts;
        for (const Item* i : items) alerts.push_back(json::parse(i->entry.payload, nullptr, false));
        std::vector<const json*> refs;
        for (const json& a : alerts) refs.push_back(&a);
        http.Send(JsonPost(AlertsUrl(c.url), AlertmanagerBody(refs, now, c.resend), c.timeout),
                  on_http);
        return;
      }
      case ChannelType::kExec: {
        const Item& i = *items.front();
        ExecRequest req;
        req.argv = c.command;
        req.timeout = c.timeout;
        req.kill_grace = std::chrono::seconds(2);
        req.input = i.entry.payload;
        req.env = {{"ROLLBACKD_CHANNEL", q.name},
                   {"ROLLBACKD_NOTIFICATION_ID", i.entry.id},
                   {"ROLLBACKD_EVENT", i.entry.kind},
                   {"ROLLBACKD_SERVICE", i.entry.service},
                   {"ROLLBACKD_ATTEMPT", std::to_string(i.attempts + 1)}};
        exec.Run(std::move(req), [weak = weak_from_this(), name = q.name, attempt](ExecResult r) {
          auto self = weak.lock();
          if (!self) return;
          std::string error = r.error;
          if (!r.success() && !r.output.empty()) error += "; output: " + Snippet(r.output);
          self->OnResult(name, attempt, r.success(), true, error);
        });
        return;
      }
      case ChannelType::kLog:
        break;  // never queued
    }
    OnResult(q.name, attempt, true, false, "");
  }

  static std::string AlertsUrl(std::string base) {
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/api/v2/alerts";
  }

  void OnResult(const std::string& name, uint64_t attempt, bool ok, bool retryable,
                const std::string& error) {
    auto it = queues.find(name);
    if (it == queues.end()) return;  // the channel went away with a reload
    Queue& q = *it->second;
    if (q.batch.empty() || q.attempt_id != attempt) return;
    std::vector<uint64_t> batch;
    batch.swap(q.batch);
    for (uint64_t seq : batch) {
      for (Item& i : q.items) {
        if (i.entry.seq == seq) ++i.attempts;
      }
    }
    if (ok) {
      q.last_error.clear();
      for (uint64_t seq : batch) FinishSeq(q, seq, "delivered", "");
      Pump(name);
      return;
    }
    q.last_error = error;
    if (!retryable) {
      for (uint64_t seq : batch) FinishSeq(q, seq, "rejected", "not retried");
      Pump(name);
      return;
    }
    const Channel& c = q.channel->config;
    const Time now = Now();
    const Item* head = nullptr;
    for (const Item& i : q.items) {
      if (i.entry.seq == batch.front()) head = &i;
    }
    const int attempts = head ? head->attempts : 1;
    const Duration delay = Backoff(attempts);
    for (uint64_t seq : batch) {
      for (size_t i = 0; i < q.items.size(); ++i) {
        const Item& item = q.items[i];
        if (item.entry.seq != seq) continue;
        if (c.max_retries && item.attempts > *c.max_retries) {
          Finish(q, i, "expired", "max_retries " + std::to_string(*c.max_retries) + " reached");
        } else if (now + delay - item.entry.created > MaxAge(c)) {
          Finish(q, i, "expired", "max_age " + FormatDuration(MaxAge(c)) + " reached");
        } else {
          Report(q.name, "retrying");
        }
        break;
      }
    }
    if (q.items.empty()) {
      CheckDrained();
      return;
    }
    spdlog::info("notification to channel {} failed (attempt {}), retrying in {}; {} queued: {}",
                 q.name, attempts, FormatDuration(delay), q.items.size(), error);
    Wait(q, delay);
  }

  Duration Backoff(int failed_attempts) {
    Duration d = options.initial_backoff;
    for (int i = 1; i < failed_attempts && d < options.max_backoff; ++i) d *= 2;
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    const auto jittered =
        Duration(static_cast<int64_t>(static_cast<double>(d.count()) * jitter(rng)));
    return std::min(jittered, options.max_backoff);
  }

  // ---- repeats and Alertmanager re-sends ---------------------------------------------------

  void ScheduleRepeat() {
    repeat_timer.cancel();
    if (!dispatcher || stopped) return;
    const std::optional<Time> next = dispatcher->NextDue();
    if (!next) return;
    repeat_timer.expires_after(std::max(*next - Now(), Duration(0)) + Duration(1));
    repeat_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || !self->dispatcher) return;
      self->Handle(self->dispatcher->Due(self->Now()));
    });
  }

  void ScheduleResend(Queue& q) {
    q.resend_timer.cancel();
    if (q.channel->config.type != ChannelType::kAlertmanager || stopped) return;
    q.resend_timer.expires_after(q.channel->config.resend);
    q.resend_timer.async_wait([weak = weak_from_this(), name = q.name](boost::system::error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self) return;
      auto it = self->queues.find(name);
      if (it == self->queues.end()) return;
      self->Resend(*it->second);
      self->ScheduleResend(*it->second);
    });
  }

  // Alertmanager forgets an alert that is not sent again before its endsAt. While the queue
  // holds notifications, those carry the news; otherwise the firing alerts go again.
  void Resend(Queue& q) {
    if (!dispatcher || !q.items.empty() || q.resend_in_flight) return;
    const std::vector<json> alerts = dispatcher->FiringAlerts(q.name);
    if (alerts.empty()) return;
    std::vector<const json*> refs;
    for (const json& a : alerts) refs.push_back(&a);
    const Channel& c = q.channel->config;
    q.resend_in_flight = true;
    http.Send(JsonPost(AlertsUrl(c.url), AlertmanagerBody(refs, Now(), c.resend), c.timeout),
              [weak = weak_from_this(), name = q.name, n = alerts.size()](HttpResponse r) {
                auto self = weak.lock();
                if (!self) return;
                auto it = self->queues.find(name);
                if (it != self->queues.end()) it->second->resend_in_flight = false;
                if (r.ok()) {
                  spdlog::debug("channel {}: {} firing alert(s) sent again", name, n);
                } else {
                  spdlog::warn("channel {}: sending {} firing alert(s) again failed: {}", name, n,
                               r.status == 0 ? r.error : "HTTP " + std::to_string(r.status));
                }
              });
  }

  // ---- state ---------------------------------------------------------------------------------

  void SaveState() {
    if (!dispatcher || !dispatcher->TakeChanged() || state_dir.empty()) return;
    std::string error;
    if (!options.fs->WriteFileAtomically(state_dir + "/" + kStateFile, dispatcher->SaveState(),
                                         &error)) {
      spdlog::error("cannot save {}/{}: {} (repeats and resolutions of what fires now may be "
                    "missed after a restart)",
                    state_dir, kStateFile, error);
    }
  }

  void CheckDrained() {
    if (drain_done && pending_in_flight() == 0 && pending_count() == 0) EndDrain();
  }
  size_t pending_in_flight() const {
    size_t n = 0;
    for (const auto& [name, q] : queues) n += q->batch.empty() ? 0 : 1;
    return n;
  }

  void Drain(Duration limit, std::function<void()> done) {
    drain_done = std::move(done);
    if (pending_count() == 0) {
      EndDrain();
      return;
    }
    drain_timer.expires_after(limit);
    drain_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      if (self && self->drain_done) self->EndDrain();
    });
  }

  void EndDrain() {
    drain_timer.cancel();
    stopped = true;
    repeat_timer.cancel();
    for (auto& [name, q] : queues) {
      q->timer.cancel();
      q->resend_timer.cancel();
    }
    const size_t left = pending_count();
    if (left > 0) {
      if (outbox) {
        spdlog::warn("stopping with {} notification(s) not delivered; they stay in {} and are "
                     "sent at the next start",
                     left, outbox->path());
      } else {
        for (const auto& [name, q] : queues) {
          for (const Item& i : q->items) {
            spdlog::warn("notification to channel {} lost at shutdown: {}; last error: {}", name,
                         Describe(i), q->last_error);
            Report(name, "dropped");
          }
          q->items.clear();
        }
      }
    }
    asio::post(io, [weak = weak_from_this(), done = std::move(drain_done)] {
      if (weak.lock()) done();
    });
    drain_done = nullptr;
  }

  asio::io_context& io;
  HttpTransport& http;
  ProcessRunner& exec;
  const NotifierOptions options;
  DeliveryObserver observer;
  std::map<std::string, std::shared_ptr<const ChannelState>> channels;
  std::unique_ptr<Dispatcher> dispatcher;
  std::map<std::string, std::unique_ptr<Queue>> queues;
  std::unique_ptr<Outbox> outbox;
  std::vector<OutboxEntry> loaded;  // read at Open, queued at the first Configure
  std::string loaded_state;         // notify.json read at Open
  std::string state_dir;
  OutboxSettings limits;
  uint64_t next_seq = 1;  // without an outbox
  std::minstd_rand rng;
  asio::steady_timer repeat_timer;
  asio::steady_timer drain_timer;
  std::function<void()> drain_done;  // set while draining
  bool stopped = false;
};

Notifier::Notifier(asio::io_context& io, HttpTransport& http, ProcessRunner& exec,
                   NotifierOptions options)
    : impl_(std::make_shared<Impl>(io, http, exec, std::move(options))) {}

Notifier::~Notifier() = default;

bool Notifier::Open(const std::string& state_dir, std::string* error) {
  Impl& m = *impl_;
  const std::string path = state_dir + "/" + kOutboxFile;
  FileSystem& fs = *m.options.fs;
  m.outbox = Outbox::Open(fs, path, error);
  if (!m.outbox) {
    // Rollbacks matter more than notifications: keep the damaged file for people, start anew.
    const std::string aside = MoveAside(fs, path);
    spdlog::error("outbox {} is unreadable: {}; moved to {}, starting with an empty outbox", path,
                  *error, aside);
    m.outbox = Outbox::Open(fs, path, error);
    if (!m.outbox) return false;
  }
  m.loaded = m.outbox->TakeLoaded();
  m.state_dir = state_dir;
  const std::string state_path = state_dir + "/" + kStateFile;
  std::string state_error;
  if (fs.ReadFile(state_path, &m.loaded_state, &state_error) == FileSystem::Read::kError) {
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
  std::map<std::string, std::shared_ptr<const Impl::ChannelState>> channels;
  for (const Channel& c : config.channels) {
    auto ch = std::make_shared<Impl::ChannelState>();
    ch->config = c;
    ch->templates = ChannelTemplates::For(c);
    if (c.type == ChannelType::kWebhook && !c.secret_file.empty()) {
      const std::string where = "channel." + c.name + ".secret_file: " + c.secret_file + ": ";
      std::string error;
      ch->key = ReadWebhookKeyFile(c.secret_file, &error);
      if (!ch->key) errors->push_back(where + error);
    }
    channels.emplace(c.name, std::move(ch));
  }
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
                    path, error, MoveAside(*m.options.fs, path));
    }
    m.loaded_state.clear();
  }
  m.dispatcher = std::move(dispatcher);
  m.channels = std::move(channels);
  m.limits = config.outbox;

  // Queues follow the channels: new settings for those that stay, nothing for those that went.
  for (auto it = m.queues.begin(); it != m.queues.end();) {
    if (m.channels.count(it->first) != 0) {
      ++it;
      continue;
    }
    Impl::Queue& q = *it->second;
    q.batch.clear();
    while (!q.items.empty()) {
      m.Finish(q, 0, "dropped", "channel " + it->first + " was removed from the configuration");
    }
    it = m.queues.erase(it);
  }
  for (const auto& [name, ch] : m.channels) {
    if (ch->config.type == ChannelType::kLog) continue;
    auto& q = m.queues[name];
    if (!q) {
      q = std::make_unique<Impl::Queue>(m.io);
      q->name = name;
    }
    q->channel = ch;
    m.ScheduleResend(*q);
  }
  // What the outbox held at start.
  for (OutboxEntry& e : m.loaded) {
    auto it = m.queues.find(e.channel);
    if (it == m.queues.end()) {
      std::string error;
      if (m.outbox) m.outbox->Remove(e.seq, "dropped", &error);
      spdlog::warn("notification {} ({} of service {}) dropped: channel {} is not configured",
                   e.id, e.kind, e.service, e.channel);
      m.Report(e.channel, "dropped");
      continue;
    }
    it->second->items.push_back(Impl::Item{std::move(e), 0});
  }
  m.loaded.clear();
  for (const auto& [name, q] : m.queues) m.Pump(name);
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
  return impl_->Enqueue(std::move(entries), error);
}

size_t Notifier::Recover(std::vector<OutboxEntry> entries) {
  Impl& m = *impl_;
  std::vector<OutboxEntry> missing;
  for (OutboxEntry& e : entries) {
    auto it = m.queues.find(e.channel);
    if (it == m.queues.end()) continue;
    const bool queued = std::any_of(it->second->items.begin(), it->second->items.end(),
                                    [&](const Impl::Item& i) { return i.entry.id == e.id; });
    const bool sent = m.outbox != nullptr && m.outbox->SeenAtOpen(e.channel, e.id);
    if (!queued && !sent) missing.push_back(std::move(e));
  }
  const size_t n = missing.size();
  if (n > 0) {
    spdlog::warn("{} notification(s) of the last round before the restart were not in the outbox "
                 "yet; queued now (a receiver may get one twice, with the same id)",
                 n);
  }
  m.Enqueue(std::move(missing));
  return n;
}

size_t Notifier::pending() const { return impl_->pending_count(); }

std::map<std::string, size_t> Notifier::PendingByChannel() const {
  std::map<std::string, size_t> out;
  for (const auto& [name, q] : impl_->queues) out[name] = q->items.size();
  return out;
}

uint64_t Notifier::outbox_bytes() const {
  return impl_->outbox ? impl_->outbox->live_bytes() : 0;
}

void Notifier::SetObserver(DeliveryObserver observer) { impl_->observer = std::move(observer); }

void Notifier::Drain(Duration limit, std::function<void()> done) {
  impl_->Drain(limit, std::move(done));
}

}  // namespace rollbackd
