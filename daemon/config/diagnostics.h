// Configuration problems as values: every one names file, line, column and key, and all of them are
// collected (a loader never stops at the first), so that `rollbackd check` can list them at once.
#ifndef ROLLBACKD_CONFIG_DIAGNOSTICS_H_
#define ROLLBACKD_CONFIG_DIAGNOSTICS_H_

#include <string>
#include <vector>

namespace rollbackd {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem concerns the file as a whole
  int column = 0;  // 1-based; 0 when unknown
};

struct Diagnostic {
  enum class Level { kError, kWarning };
  Level level = Level::kError;
  SourceLocation where;
  std::string key;  // dotted path of the offending key, e.g. "trigger[1].for"; may be empty
  std::string message;

  // "file:line:column: key: message", with "warning: " before the key for warnings.
  std::string ToString() const;
};

class Diagnostics {
 public:
  void Error(SourceLocation where, std::string key, std::string message);
  void Warning(SourceLocation where, std::string key, std::string message);

  bool has_errors() const { return errors_ > 0; }
  int error_count() const { return errors_; }
  // Sorted by file, line, column, in the order they were reported where those are equal.
  std::vector<Diagnostic> Sorted() const;
  const std::vector<Diagnostic>& all() const { return all_; }

 private:
  std::vector<Diagnostic> all_;
  int errors_ = 0;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_CONFIG_DIAGNOSTICS_H_
