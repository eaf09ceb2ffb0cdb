#include "daemon/runtime/schedule.h"

#include <algorithm>

namespace rollbackd {

Schedule::Schedule(const Config& config, const Engine& engine, Clock::time_point now) {
  auto add = [](std::vector<int>& v, int id) {
    if (id >= 0 && std::find(v.begin(), v.end(), id) == v.end()) v.push_back(id);
  };
  for (size_t index = 0; index < config.services.size(); ++index) {
    const Service& s = config.services[index];
    const Duration period = s.interval.value_or(config.daemon.interval);
    Unit triggers{{}, period, now, index};
    for (const Trigger& t : s.triggers) {
      if (auto in = engine.trigger_inputs(s.name, t.name)) {
        add(triggers.inputs, in->query);
        add(triggers.inputs, in->baseline);
        add(triggers.inputs, in->traffic);
      }
    }
    add(triggers.inputs, engine.version_input(s.name));
    if (!triggers.inputs.empty()) units_.push_back(std::move(triggers));
    for (const HealthCheck& h : s.health) {
      Unit probe{{}, h.interval.count() > 0 ? h.interval : period, now, index};
      if (auto in = engine.trigger_inputs(s.name, h.name)) add(probe.inputs, in->query);
      if (!probe.inputs.empty()) units_.push_back(std::move(probe));
    }
  }
}

Schedule::Clock::time_point Schedule::next() const {
  auto next = units_.front().next;
  for (const Unit& u : units_) next = std::min(next, u.next);
  return next;
}

size_t Schedule::TakeDue(Clock::time_point now, std::vector<char>* due, Clock::duration slack,
                         const std::function<bool(size_t)>& skip, size_t* skipped) {
  for (Unit& u : units_) {
    if (u.next > now + slack) continue;
    if (!skip || !skip(u.service)) {
      for (int id : u.inputs) (*due)[static_cast<size_t>(id)] = 1;
    } else if (skipped != nullptr) {
      ++*skipped;
    }
    u.next += u.period;
    if (u.next <= now) u.next = now + u.period;
  }
  return static_cast<size_t>(std::count(due->begin(), due->end(), 1));
}

Time SlotClock::At(Schedule::Clock::time_point slot, Schedule::Clock::time_point now,
                   std::chrono::system_clock::time_point wall_now) {
  using std::chrono::milliseconds;
  if (now - slot > std::chrono::seconds(1)) slot = now;
  const auto wall_slot = wall_now - (now - slot);
  if (anchored_) {
    const Time t = anchor_wall_ + std::chrono::duration_cast<milliseconds>(slot - anchor_);
    const auto off = t - std::chrono::time_point_cast<milliseconds>(wall_slot);
    if (off <= std::chrono::seconds(1) && off >= -std::chrono::seconds(1)) return t;
  }
  anchored_ = true;
  anchor_ = slot;
  anchor_wall_ = std::chrono::round<milliseconds>(wall_slot);
  return anchor_wall_;
}

}  // namespace rollbackd
