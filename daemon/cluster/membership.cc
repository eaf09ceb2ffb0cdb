#include "daemon/cluster/membership.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace rollbackd {
namespace {

// FNV-1a, then a finalizer (splitmix64) so that names differing in one byte spread over the whole
// range. Fixed here, not std::hash: members built by different compilers must agree.
uint64_t Score(std::string_view member, std::string_view service) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix(member);
  h ^= 0xff;  // a separator no name contains
  h *= 1099511628211ULL;
  mix(service);
  h += 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

Duration Seconds(int64_t s) { return std::chrono::seconds(s); }

}  // namespace

std::string RendezvousOwner(std::string_view service, const std::vector<std::string>& members) {
  const std::string* best = nullptr;
  uint64_t best_score = 0;
  for (const std::string& m : members) {
    const uint64_t s = Score(m, service);
    if (best == nullptr || s > best_score || (s == best_score && m < *best)) {
      best = &m;
      best_score = s;
    }
  }
  return best ? *best : std::string();
}

Membership::Membership(Etcd& etcd, Clock& clock, MembershipOptions options, Callbacks callbacks)
    : etcd_(etcd),
      clock_(clock),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      renew_timer_(clock.NewTimer()),
      expiry_timer_(clock.NewTimer()),
      health_timer_(clock.NewTimer()),
      watch_timer_(clock.NewTimer()) {}

Membership::~Membership() = default;

std::string Membership::member_key() const { return options_.prefix + "/members/" + options_.name; }

bool Membership::live() const {
  return lease_ != 0 && registered_ && !stopping_ &&
         clock_.SteadyNow() < valid_until_ - Margin(options_.lease_ttl);
}

std::vector<std::string> Membership::members() const {
  std::vector<std::string> all = others_;
  if (live()) all.insert(std::lower_bound(all.begin(), all.end(), options_.name), options_.name);
  return all;
}

std::string Membership::OwnerOf(std::string_view service) const {
  return RendezvousOwner(service, members());
}

bool Membership::Owns(std::string_view service) const {
  return live() && OwnerOf(service) == options_.name;
}

void Membership::Start() {
  // Down after lease_ttl without an answer, also at the first start.
  health_timer_->At(clock_.SteadyNow() + options_.lease_ttl, [this] { Unanswered(); });
  Grant();
  Load();
}

void Membership::Stop(std::function<void()> done) {
  const bool was = live();
  stopping_ = true;
  renew_timer_->Cancel();
  expiry_timer_->Cancel();
  health_timer_->Cancel();
  watch_timer_->Cancel();
  watch_.reset();
  if (was) Changed();
  if (lease_ == 0) {
    done();
    return;
  }
  etcd_.Revoke(lease_, [alive = std::weak_ptr<bool>(alive_), done = std::move(done)](EtcdStatus) {
    done();  // revoked or not: the lease expires on its own
  });
}

void Membership::Grant() {
  if (stopping_) return;
  const SteadyTime sent = clock_.SteadyNow();
  const int64_t ttl = std::chrono::duration_cast<std::chrono::seconds>(options_.lease_ttl).count();
  etcd_.Grant(ttl, [this, alive = std::weak_ptr<bool>(alive_), sent](EtcdLeaseResult r) {
    if (!alive.lock() || stopping_) return;
    if (!r.status.ok()) {
      spdlog::debug("cluster: lease grant failed: {}", r.status.error);
      ScheduleRenew(std::chrono::seconds(1));
      return;
    }
    Answered();
    lease_ = r.id;
    valid_until_ = sent + Seconds(r.ttl);
    Register();
  });
}

// The member key under the lease; only then is this member live.
void Membership::Register() {
  EtcdTxn txn;
  txn.success.push_back({EtcdOp::Kind::kPut, member_key(), options_.name, lease_, ""});
  etcd_.Txn(std::move(txn), [this, alive = std::weak_ptr<bool>(alive_)](EtcdTxnResult r) {
    if (!alive.lock() || stopping_) return;
    if (!r.status.ok()) {
      spdlog::debug("cluster: registering failed: {}", r.status.error);
      ScheduleRenew(std::chrono::seconds(1));
      return;
    }
    Answered();
    registered_ = true;
    spdlog::info("cluster: member {} registered under lease {:x} ({} other member(s) seen)",
                 options_.name, lease_, others_.size());
    ScheduleExpiry();
    ScheduleRenew(options_.lease_ttl / 3);
    Changed();
  });
}

void Membership::ScheduleRenew(Duration after) {
  if (stopping_) return;
  renew_timer_->At(clock_.SteadyNow() + after, [this] {
    if (lease_ == 0 || !registered_) {
      lease_ = 0;
      registered_ = false;
      Grant();
    } else {
      Renew();
    }
  });
}

void Membership::Renew() {
  const SteadyTime sent = clock_.SteadyNow();
  etcd_.KeepAlive(
      lease_, [this, alive = std::weak_ptr<bool>(alive_), sent, lease = lease_](EtcdLeaseResult r) {
        if (!alive.lock() || stopping_ || lease != lease_) return;
        if (callbacks_.renewed) callbacks_.renewed(r.status.ok() && r.ttl > 0);
        if (!r.status.ok()) {
          spdlog::debug("cluster: lease renewal failed: {}", r.status.error);
          // Again soon, on the next endpoint; the expiry timer ends live() on time regardless.
          ScheduleRenew(std::min<Duration>(options_.lease_ttl / 6, std::chrono::seconds(1)));
          return;
        }
        Answered();
        if (r.ttl <= 0) {
          LeaseLost("etcd no longer knows lease " + std::to_string(lease_));
          return;
        }
        valid_until_ = sent + Seconds(r.ttl);
        ScheduleExpiry();
        ScheduleRenew(options_.lease_ttl / 3);
      });
}

void Membership::ScheduleExpiry() {
  const bool now_live = live();
  if (now_live != was_live_) Changed();
  if (!now_live) return;
  expiry_timer_->At(valid_until_ - Margin(options_.lease_ttl), [this] {
    if (!live() && was_live_) {
      spdlog::warn(
          "cluster: lease {:x} not renewed in time: this member stops acting (its services go "
          "to the others if the lease expires)",
          lease_);
      Changed();
    }
  });
}

void Membership::LeaseLost(const std::string& why) {
  spdlog::warn("cluster: {}: registering again", why);
  lease_ = 0;
  registered_ = false;
  Changed();
  Grant();
}

void Membership::Answered() {
  health_timer_->At(clock_.SteadyNow() + options_.lease_ttl, [this] { Unanswered(); });
  if (!healthy_) {
    healthy_ = true;
    if (callbacks_.health) callbacks_.health(true);
  }
}

void Membership::Unanswered() {
  if (stopping_ || !healthy_) return;
  healthy_ = false;
  if (callbacks_.health) callbacks_.health(false);
}

// The members now, then every change from the revision after.
void Membership::Load() {
  if (stopping_) return;
  const std::string prefix = options_.prefix + "/members/";
  etcd_.Range(prefix, PrefixEnd(prefix),
              [this, alive = std::weak_ptr<bool>(alive_), prefix](EtcdRangeResult r) {
                if (!alive.lock() || stopping_) return;
                if (!r.status.ok()) {
                  watch_timer_->At(clock_.SteadyNow() + std::chrono::seconds(1),
                                   [this] { Load(); });
                  return;
                }
                Answered();
                std::vector<std::string> others;
                self_seen_ = false;
                for (const EtcdKv& kv : r.kvs) {
                  const std::string name = kv.key.substr(prefix.size());
                  if (name == options_.name) {
                    self_seen_ = true;
                  } else {
                    others.push_back(name);
                  }
                }
                std::sort(others.begin(), others.end());
                if (others != others_) {
                  others_ = std::move(others);
                  Changed();
                }
                Watch(r.revision + 1);
              });
}

void Membership::Watch(int64_t from) {
  const std::string prefix = options_.prefix + "/members/";
  // A stream that ends is not resumed from its last revision: Load reads the members again.
  watch_ = etcd_.StartWatch(
      prefix, PrefixEnd(prefix), from,
      [this, prefix](int64_t, std::vector<EtcdWatchEvent> events) {
        Answered();
        bool changed = false;
        for (const EtcdWatchEvent& e : events) {
          const std::string name = e.kv.key.substr(prefix.size());
          if (name == options_.name) {
            self_seen_ = !e.deleted;
            continue;
          }
          auto it = std::lower_bound(others_.begin(), others_.end(), name);
          const bool present = it != others_.end() && *it == name;
          if (e.deleted && present) {
            others_.erase(it);
            changed = true;
            spdlog::info("cluster: member {} left", name);
          } else if (!e.deleted && !present) {
            others_.insert(it, name);
            changed = true;
            spdlog::info("cluster: member {} joined", name);
          }
        }
        if (changed) Changed();
      },
      [this, alive = std::weak_ptr<bool>(alive_)](EtcdStatus status) {
        if (!alive.lock() || stopping_) return;
        spdlog::debug("cluster: members watch ended: {}", status.error);
        // Read the members again (a compacted revision, a member that left meanwhile), then
        // watch from there; at once unless etcd did not answer.
        watch_timer_->At(clock_.SteadyNow() + std::chrono::milliseconds(200), [this] { Load(); });
      });
}

void Membership::Changed() {
  was_live_ = live();
  if (callbacks_.changed) callbacks_.changed();
}

}  // namespace rollbackd
