#include "testing/fakes.h"

#include <boost/asio/post.hpp>

namespace rollbackd::testing {
namespace {

template <typename T>
void PostLater(boost::asio::io_context& io, const std::shared_ptr<bool>& alive,
               std::function<void(T)> done, T value) {
  boost::asio::post(io, [alive = std::weak_ptr<bool>(alive), done = std::move(done),
                         value = std::move(value)]() mutable {
    if (alive.lock()) done(std::move(value));
  });
}

}  // namespace

void FakeHttpTransport::Send(HttpRequest request, std::function<void(HttpResponse)> done) {
  if (frozen_) return;
  HttpResponse r;
  if (respond) {
    r = respond(request);
  } else {
    r.status = 200;
  }
  requests.push_back(std::move(request));
  PostLater(io_, alive_, std::move(done), std::move(r));
}

void FakeProcessRunner::Run(ExecRequest request, std::function<void(ExecResult)> done) {
  ExecResult r;
  if (respond) {
    r = respond(request);
  } else {
    r.started = true;
    r.exit_status = 0;
  }
  requests.push_back(std::move(request));
  PostLater(io_, alive_, std::move(done), std::move(r));
}

void FakeInputReader::Query(const PrometheusEndpoint&, const std::string& promql, Time at,
                            std::function<void(QueryResult)> done) {
  ++queries;
  PostLater(io_, alive_, std::move(done), query ? query(promql, at) : QueryResult());
}

void FakeInputReader::Probe(const HealthCheck& check, std::function<void(ProbeOutcome)> done) {
  ++probes;
  ProbeOutcome o;
  if (probe) {
    o = probe(check);
  } else {
    o.passed = true;
    o.status = 200;
  }
  PostLater(io_, alive_, std::move(done), std::move(o));
}

FakeHookRunner::~FakeHookRunner() = default;

void FakeHookRunner::Run(HookRun run, std::function<void(RollbackOutcome)> done) {
  if (frozen_) return;  // the process is gone: nothing starts
  auto s = std::make_unique<Started>();
  const std::string id = run.rollback_id;
  s->run = std::move(run);
  s->at = clock_.SteadyNow();
  s->wall = clock_.WallNow();
  s->done = std::move(done);
  s->timer = clock_.NewTimer();
  const size_t index = runs.size();
  if (!hold) {
    // At least one loop turn later, even for a zero duration: never inside Run.
    clock_.After(*s->timer, duration, [this, index] { Finish(index, outcome); });
  }
  runs.push_back(std::move(s));
  if (on_step) on_step("hook start", id);
}

bool FakeHookRunner::Finish(size_t i, const RollbackOutcome& o) {
  if (frozen_ || i >= runs.size() || !runs[i]->done) return false;
  auto done = std::move(runs[i]->done);
  runs[i]->done = nullptr;
  if (on_step) on_step("hook end", runs[i]->run.rollback_id);
  done(o);
  return true;
}

void FakeHookRunner::Resume(const std::string& record, std::function<void(ResumedHook)> done) {
  if (resume_hold) {
    resumes.emplace_back(record, std::move(done));
    return;
  }
  resumes.emplace_back(record, nullptr);  // asked, answered at once
  auto it = resumed.find(record);
  done(it != resumed.end() ? it->second
                           : ResumedHook{ResumedHook::State::kUnknown, {}, "no record"});
}

bool FakeHookRunner::EndResume(size_t i, const ResumedHook& r) {
  if (i >= resumes.size() || !resumes[i].second) return false;
  auto done = std::move(resumes[i].second);
  resumes[i].second = nullptr;
  done(r);
  return true;
}

size_t FakeHookRunner::running() const {
  size_t n = 0;
  for (const auto& r : runs) n += r->done ? 1 : 0;
  return n;
}

}  // namespace rollbackd::testing
