// pipeline_hook: the rollback hook every pipeline of pipeline_bench starts, so that "hook start" is
// one and the same instant for all three: the clock is read before anything else happens.
//
//   pipeline_hook PIPELINE FILE
//
// Appends "<PIPELINE> <CLOCK_REALTIME ns>\n" to FILE with one write() on an O_APPEND descriptor
// (whole lines even when two pipelines' hooks run at once) and exits 0; 2 on a bad command line, 1
// when the file cannot be written. No shell, no libraries beyond libc's.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

int main(int argc, char** argv) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  if (argc != 3) {
    std::fprintf(stderr, "usage: pipeline_hook PIPELINE FILE\n");
    return 2;
  }
  char line[256];
  const int n = std::snprintf(line, sizeof line, "%s %lld\n", argv[1],
                              static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof line) return 2;
  const int fd = ::open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return 1;
  const bool ok = ::write(fd, line, static_cast<size_t>(n)) == n;
  return ::close(fd) == 0 && ok ? 0 : 1;
}
