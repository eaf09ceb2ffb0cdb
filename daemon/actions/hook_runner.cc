#include "daemon/actions/hook_runner.h"

#include <spdlog/spdlog.h>

#include "daemon/actions/hook_env.h"
#include "daemon/config/redact.h"
#include "daemon/io/signing.h"

namespace rollbackd {
namespace {

RollbackOutcome ExecOutcome(ExecResult r) {
  RollbackOutcome o;
  o.success = r.success();
  if (r.started && r.signal == 0 && !r.timed_out) o.exit_code = r.exit_status;
  o.duration = r.duration;
  o.output = std::move(r.output);
  o.error = std::move(r.error);
  return o;
}

}  // namespace

void TransportHookRunner::Resume(const std::string& record, std::function<void(ResumedHook)> done) {
  if (record.empty()) {
    done(ResumedHook{ResumedHook::State::kUnknown, {}, "the hook had no record"});
    return;
  }
  exec_.Resume(record, [done = std::move(done)](ResumedRun r) {
    ResumedHook out;
    out.detail = std::move(r.detail);
    switch (r.state) {
      case ResumedRun::State::kNotStarted:
        out.state = ResumedHook::State::kNotStarted;
        break;
      case ResumedRun::State::kFinished:
        out.state = ResumedHook::State::kFinished;
        out.outcome = ExecOutcome(std::move(r.result));
        break;
      case ResumedRun::State::kUnknown:
        out.state = ResumedHook::State::kUnknown;
        break;
    }
    done(std::move(out));
  });
}

void TransportHookRunner::Run(HookRun run, std::function<void(RollbackOutcome)> done) {
  const std::string& id = run.rollback_id;
  const RollbackHook& hook = run.hook;
  if (hook.http) {
    const HttpHook& h = *hook.http;
    const int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.WallNow().time_since_epoch())
            .count();
    HttpRequest req = SignedJsonPost(h.url, EventToJson(run.started), id,
                                     run.credentials.signing_key, now_s, hook.timeout);
    req.method = h.method;
    for (const auto& [k, v] : h.headers) req.headers.emplace_back(k, v);
    if (run.started.fencing_token) {
      req.headers.emplace_back("Rollbackd-Fencing-Token",
                               std::to_string(*run.started.fencing_token));
    }
    req.bearer_token = run.credentials.bearer_token;
    req.basic_username = run.credentials.basic_username;
    req.basic_password = run.credentials.basic_password;
    // The reply's last 4 KiB are the outcome's output, as a command's; the rest is read and
    // dropped.
    req.body_limit = BodyLimit::Tail(kHookOutputTail);
    spdlog::warn("rollback {} of {}: {} {}", id, run.started.service, h.method, RedactUrl(h.url));
    http_.Send(std::move(req), [done = std::move(done)](HttpResponse r) {
      RollbackOutcome o;
      o.success = r.ok();
      if (r.status > 0) o.http_status = r.status;
      o.duration = r.elapsed;
      o.output =
          r.body.size() > kHookOutputTail ? r.body.substr(r.body.size() - kHookOutputTail) : r.body;
      if (!r.error.empty()) {
        o.error = r.error;
      } else if (!r.ok()) {
        o.error = "HTTP status " + std::to_string(r.status);
      }
      done(std::move(o));
    });
    return;
  }
  ExecRequest req;
  req.argv = hook.exec;
  HookEnv env = HookEnvironment(run.started);
  for (const std::string& note : env.notes) {
    spdlog::warn("rollback {} of {}: hook environment: {}", id, run.started.service, OneLine(note));
  }
  req.env = std::move(env.vars);
  req.timeout = hook.timeout;
  req.output_tail = kHookOutputTail;
  req.record = run.record;
  spdlog::warn("rollback {} of {}: running {}", id, run.started.service, hook.exec.front());
  exec_.Run(std::move(req),
            [done = std::move(done)](ExecResult r) { done(ExecOutcome(std::move(r))); });
}

}  // namespace rollbackd
