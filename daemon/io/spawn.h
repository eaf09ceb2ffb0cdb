// Starting a command the way every hook and exec channel starts (ExecRunner, the hook supervisor):
// no shell, a new process group led by the child, default signal dispositions and an empty signal
// mask, stdin from `stdin_fd` (or /dev/null when it is -1), stdout and stderr to `out_fd`, and no
// other descriptor of ours (not the API's listening socket, Prometheus connections, the journal).
#ifndef ROLLBACKD_IO_SPAWN_H_
#define ROLLBACKD_IO_SPAWN_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace rollbackd {

// posix_spawn of `program` (a path) with `argv` and `envp` (NULL-terminated "NAME=value"s).
// 0 and `*pid` set, or the error number.
int SpawnInNewGroup(const std::string& program, const std::vector<std::string>& argv,
                    char* const* envp, int stdin_fd, int out_fd, pid_t* pid);

// pidfd_open(2): a descriptor that becomes readable when `pid` exits (any process, not only a
// child); -1 and errno (ENOSYS on kernels before 5.3).
int PidfdOpen(pid_t pid);

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_SPAWN_H_
