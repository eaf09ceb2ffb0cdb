// Fakes of the daemon's effects (ninja's FakeCommandRunner is the model): each records what it was
// asked and answers as the test scripts it, later, on the loop (never inside the call).
#ifndef ROLLBACKD_TESTING_FAKES_H_
#define ROLLBACKD_TESTING_FAKES_H_

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/actions/hook_runner.h"
#include "daemon/io/clock.h"
#include "daemon/io/transport.h"
#include "daemon/sources/probe.h"

namespace rollbackd::testing {

// HTTP: every request is kept in `requests`; `respond` answers (default: 200, empty body).
class FakeHttpTransport : public HttpTransport {
 public:
  explicit FakeHttpTransport(boost::asio::io_context& io) : io_(io) {}
  void Send(HttpRequest request, std::function<void(HttpResponse)> done) override;

  std::function<HttpResponse(const HttpRequest&)> respond;
  std::vector<HttpRequest> requests;
  // After Freeze (the process "died"), requests are neither kept nor answered.
  void Freeze() { frozen_ = true; }

 private:
  boost::asio::io_context& io_;
  bool frozen_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Commands: every request is kept in `requests`; `respond` answers (default: exit 0).
class FakeProcessRunner : public ProcessRunner {
 public:
  explicit FakeProcessRunner(boost::asio::io_context& io) : io_(io) {}
  void Run(ExecRequest request, std::function<void(ExecResult)> done) override;

  std::function<ExecResult(const ExecRequest&)> respond;
  std::vector<ExecRequest> requests;

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Inputs: `query` and `probe` answer from the instant and the query (default: no data / passed).
class FakeInputReader : public InputReader {
 public:
  explicit FakeInputReader(boost::asio::io_context& io) : io_(io) {}
  void Query(const PrometheusEndpoint& endpoint, const std::string& promql, Time at,
             std::function<void(QueryResult)> done) override;
  void Probe(const HealthCheck& check, std::function<void(ProbeOutcome)> done) override;

  std::function<QueryResult(const std::string& promql, Time at)> query;
  std::function<ProbeOutcome(const HealthCheck& check)> probe;
  size_t queries = 0;
  size_t probes = 0;

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Rollback hooks: each run is kept; it ends `duration` later on `clock` with `outcome`, unless
// `hold` is set, then it ends when the test calls Finish.
class FakeHookRunner : public HookRunner {
 public:
  explicit FakeHookRunner(Clock& clock) : clock_(clock) {}
  ~FakeHookRunner() override;
  void Run(HookRun run, std::function<void(RollbackOutcome)> done) override;

  struct Started {
    HookRun run;
    SteadyTime at;
    WallTime wall;
    std::function<void(RollbackOutcome)> done;  // empty once finished
    std::unique_ptr<Timer> timer;
  };
  std::vector<std::unique_ptr<Started>> runs;
  Duration duration{0};
  RollbackOutcome outcome = Succeeded();
  bool hold = false;
  // Called when a run starts and when it ends (crash tests count boundaries here).
  std::function<void(const char* what, const std::string& id)> on_step;

  // Ends run `i` now with `o` (false when it already ended).
  bool Finish(size_t i, const RollbackOutcome& o);
  // The process "died": runs still going never report.
  void Freeze() { frozen_ = true; }
  size_t running() const;

  // After a restart: what each record says (by record path); a record not listed is unknown.
  // With `resume_hold` the answer waits in `resumes` (a hook its supervisor still runs) until
  // EndResume.
  void Resume(const std::string& record, std::function<void(ResumedHook)> done) override;
  void Forget(const std::string& record) override { forgotten.push_back(record); }
  bool EndResume(size_t i, const ResumedHook& r);
  std::map<std::string, ResumedHook> resumed;
  bool resume_hold = false;
  std::vector<std::pair<std::string, std::function<void(ResumedHook)>>> resumes;
  std::vector<std::string> forgotten;

  static RollbackOutcome Succeeded() {
    RollbackOutcome o;
    o.success = true;
    o.exit_code = 0;
    return o;
  }

 private:
  Clock& clock_;
  bool frozen_ = false;
};

}  // namespace rollbackd::testing

#endif  // ROLLBACKD_TESTING_FAKES_H_
