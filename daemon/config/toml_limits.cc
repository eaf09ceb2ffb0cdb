#include "daemon/config/toml_limits.h"

#include <string>
#include <vector>

namespace rollbackd {

bool CheckTomlBounds(std::string_view text, const std::string& file, Diagnostics* diags) {
  // Where the scan is: in a key (line start, a table header, an inline table after '{' or ','),
  // or in a value (after '=', inside an array). Containers: '{' holds keys, '[' values.
  enum class Container { kInlineTable, kArray, kHeader };
  std::vector<Container> open;
  bool in_key = true;
  size_t key_parts = 1;
  int line = 1;
  size_t line_start = 0;
  auto fail = [&](size_t at, std::string message) {
    diags->Error({file, line, static_cast<int>(at - line_start) + 1}, "", std::move(message));
    return false;
  };
  auto newline = [&](size_t at) {
    ++line;
    line_start = at + 1;
  };
  auto start_key = [&] {
    in_key = true;
    key_parts = 1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '\n':
        newline(i);
        if (open.empty() || open.back() == Container::kInlineTable) start_key();
        break;
      case '#':
        while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
        break;
      case '"':
      case '\'': {
        const bool triple = text.substr(i, 3) == std::string(3, c);
        i += triple ? 3 : 1;
        bool closed = false;
        for (; i < text.size(); ++i) {
          if (text[i] == '\n') {
            if (!triple) break;  // toml++ reports the unterminated string
            newline(i);
          } else if (c == '"' && text[i] == '\\') {
            ++i;
            if (i < text.size() && text[i] == '\n') newline(i);
          } else if (text[i] == c && (!triple || text.substr(i, 3) == std::string(3, c))) {
            if (triple) {
              // Up to two more quotes may end the content ("""a""""" is valid).
              while (i + 3 < text.size() && text[i + 3] == c) ++i;
              i += 2;
            }
            closed = true;
            break;
          }
        }
        if (!closed && i >= text.size()) return true;  // toml++ reports it
        if (!closed) --i;                              // let the newline be seen
        break;
      }
      case '.':
        if (in_key && ++key_parts > kMaxTomlKeyParts) {
          return fail(i, "a key of more than " + std::to_string(kMaxTomlKeyParts) + " dotted parts");
        }
        break;
      case '=':
        in_key = false;
        break;
      case ',':
        if (!open.empty() && open.back() == Container::kInlineTable) start_key();
        break;
      case '{':
      case '[':
        if (c == '[' && in_key && open.empty()) {
          // A table header: [a.b] or [[a.b]]; its key follows.
          if (i + 1 < text.size() && text[i + 1] == '[') ++i;
          open.push_back(Container::kHeader);
          start_key();
          break;
        }
        open.push_back(c == '{' ? Container::kInlineTable : Container::kArray);
        if (open.size() > kMaxTomlNesting) {
          return fail(i, "values nested more than " + std::to_string(kMaxTomlNesting) + " deep");
        }
        if (c == '{') {
          start_key();
        } else {
          in_key = false;
        }
        break;
      case '}':
      case ']':
        if (!open.empty()) {
          if (open.back() == Container::kHeader && i + 1 < text.size() && text[i + 1] == ']') ++i;
          open.pop_back();
        }
        in_key = false;
        break;
      default:
        break;
    }
  }
  return true;
}

}  // namespace rollbackd
