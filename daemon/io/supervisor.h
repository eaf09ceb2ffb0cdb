// A rollback hook's real outcome outlives the daemon. An exec hook does not run as the daemon's
// child but under a small supervisor process (the rollbackd binary itself: `rollbackd
// supervise-hook`), which starts it, enforces its timeout (SIGTERM to its process group, SIGKILL
// after the grace), keeps the last bytes of its output, and writes what became of it into the
// state dir. So a daemon killed while a hook runs learns at its next start what really happened:
//
//   <record>.running   written and fsynced before the hook starts: the supervisor's pid, when it
//                      started, the timeout. Absent: the hook never started.
//   <record>.outcome   written (atomically, fsynced) once the hook has ended: exit status or
//                      signal, timed out, duration, the output's tail.
//
// The daemon removes both once its journal holds the outcome (RemoveSupervisedRecord).
//
// Threading: everything here is synchronous, small, and safe on the daemon's loop (a few file
// reads); SuperviseMain is the supervisor process's whole life.
#ifndef ROLLBACKD_IO_SUPERVISOR_H_
#define ROLLBACKD_IO_SUPERVISOR_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/config/duration.h"
#include "daemon/io/exec_request.h"

namespace rollbackd {

inline constexpr const char* kSuperviseCommand = "supervise-hook";

// What the supervisor is told (its command line).
struct SupervisorArgs {
  std::string record;   // path prefix of the record files: <state_dir>/hooks/<rollback id>
  std::string program;  // the hook's program, already looked up in its PATH
  std::vector<std::string> argv;
  Duration timeout{std::chrono::minutes(2)};
  Duration kill_grace{std::chrono::seconds(5)};
  size_t output_tail = 4096;
};

// The supervisor's argv: `self` (the rollbackd binary) supervise-hook --record ... -- argv...
std::vector<std::string> SupervisorArgv(const std::string& self, const SupervisorArgs& args);

// The supervisor process: `args` are what follows `supervise-hook`. Its environment is passed to
// the hook as it is. Exit status 0 once the outcome is on disk (whatever the hook did); 2 for a bad
// command line; 3 when the record could not be written (then the hook did not start, or its
// outcome is lost: it says which on stderr).
int SuperviseMain(const std::vector<std::string>& args);

// What a record says.
struct SupervisedRecord {
  enum class State {
    kNone,      // neither file: the hook never started
    kRunning,   // .running only: the supervisor is running, or died without an outcome
    kFinished,  // .outcome: `result` is the hook's
    kDamaged,   // a file that does not parse; `problem` says which
  };
  State state = State::kNone;
  pid_t pid = 0;                // kRunning: the supervisor
  int64_t started_unix_ms = 0;  // kRunning: when it started the hook
  Duration timeout{0};
  Duration kill_grace{0};
  ExecResult result;  // kFinished
  std::string problem;
};
SupervisedRecord ReadSupervisedRecord(const std::string& record);
void RemoveSupervisedRecord(const std::string& record);

// Whether process `pid` is the supervisor of `record` (its command line says so): a pid reused
// by another process is not mistaken for it.
bool IsSupervisorOf(pid_t pid, const std::string& record);

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_SUPERVISOR_H_
