#include "daemon/config/diagnostics.h"

#include <algorithm>
#include <tuple>

namespace rollbackd {

// Appended piece by piece: GCC 12 at -O3 (Release) reports a false -Wrestrict (a memcpy "may
// overlap") in the temporaries of `":" + std::to_string(n)` once this is inlined.
std::string Diagnostic::ToString() const {
  std::string out = where.file;
  if (where.line > 0) {
    out += ':';
    out += std::to_string(where.line);
    if (where.column > 0) {
      out += ':';
      out += std::to_string(where.column);
    }
  }
  out += ": ";
  if (level == Level::kWarning) out += "warning: ";
  if (!key.empty()) {
    out += key;
    out += ": ";
  }
  out += message;
  return out;
}

void Diagnostics::Error(SourceLocation where, std::string key, std::string message) {
  all_.push_back({Diagnostic::Level::kError, std::move(where), std::move(key), std::move(message)});
  ++errors_;
}

void Diagnostics::Warning(SourceLocation where, std::string key, std::string message) {
  all_.push_back(
      {Diagnostic::Level::kWarning, std::move(where), std::move(key), std::move(message)});
}

std::vector<Diagnostic> Diagnostics::Sorted() const {
  std::vector<Diagnostic> out = all_;
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) <
           std::tie(b.where.file, b.where.line, b.where.column);
  });
  return out;
}

}  // namespace rollbackd
