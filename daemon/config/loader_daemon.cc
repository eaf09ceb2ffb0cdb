// rollbackd.toml: [daemon], [outbox], the [prometheus.*] sources, [channel.*] and [[route]].
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/config/loader.h"
#include "daemon/config/loader_internal.h"
#include "daemon/config/redact.h"
#include "daemon/config/template.h"
#include "daemon/config/toml_reader.h"

namespace rollbackd::config_internal {
namespace {

// A route's group_wait delays the first notification of a group; past this it is a mistake.
constexpr Duration kMaxGroupWait = std::chrono::minutes(10);
// The smallest [outbox].max_bytes: room for a few hundred notifications.
constexpr uint64_t kMinOutboxBytes = 64 << 10;

std::string Article(std::string_view word) {
  return !word.empty() && std::string_view("aeiou").find(word[0]) != std::string_view::npos ? "an"
                                                                                            : "a";
}

// A count that must be at least `min` and fit an int.
std::optional<int64_t> ReadCount(TableReader& r, std::string_view key, int64_t min,
                                 std::string_view below_min) {
  auto n = r.Integer(key);
  if (!n) return std::nullopt;
  if (*n < min) {
    r.Error(key, std::string(below_min));
    return std::nullopt;
  }
  if (*n > std::numeric_limits<int>::max()) {
    r.Error(key, "too large (at most " + std::to_string(std::numeric_limits<int>::max()) + ")");
    return std::nullopt;
  }
  return n;
}

// A notification template (daemon/config/template.h); an invalid one is an error at its key.
std::optional<std::string> ReadTemplate(TableReader& r, std::string_view key) {
  auto text = r.String(key);
  if (!text) return std::nullopt;
  std::string error;
  if (!Template::Parse(*text, &error)) {
    r.Error(key, "invalid template: " + error);
    return std::nullopt;
  }
  return text;
}

// Sizes: an integer number of bytes, or a string of digits and a unit: B, KB, MB, GB (powers of
// 1000) or KiB, MiB, GiB (powers of 1024). nullopt on anything else or on overflow.
std::optional<uint64_t> ParseByteSize(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 19) return std::nullopt;
  uint64_t n = 0;
  for (size_t i = 0; i < digits; ++i) n = n * 10 + static_cast<uint64_t>(text[i] - '0');
  static const std::pair<std::string_view, uint64_t> kUnits[] = {
      {"B", 1},           {"KB", 1000},        {"MB", 1000000},
      {"GB", 1000000000}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20},
      {"GiB", 1ull << 30}};
  const std::string_view unit = text.substr(digits);
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    if (n > std::numeric_limits<uint64_t>::max() / factor) return std::nullopt;
    return n * factor;
  }
  return std::nullopt;
}

std::optional<uint64_t> ReadByteSize(TableReader& r, const toml::table& table,
                                     std::string_view key) {
  r.Skip(key);
  const toml::node* n = table.get(key);
  if (n == nullptr) return std::nullopt;
  constexpr std::string_view kExpected =
      "a number of bytes or a string such as \"64MiB\" (units B, KB, MB, GB, KiB, MiB, GiB)";
  if (const auto* i = n->as_integer()) {
    if (i->get() < 0) {
      r.Error(key, "must not be negative");
      return std::nullopt;
    }
    return static_cast<uint64_t>(i->get());
  }
  if (const auto* s = n->as_string()) {
    auto size = ParseByteSize(s->get());
    if (!size) {
      r.Error(key, "invalid size " + Quote(s->get()) + "; expected " + std::string(kExpected));
    }
    return size;
  }
  std::string_view found = n->is_floating_point() ? "a float"
                           : n->is_boolean()      ? "a boolean"
                           : n->is_array()        ? "an array"
                           : n->is_table()        ? "a table"
                                                  : "a date or time";
  r.Error(key, "expected " + std::string(kExpected) + ", found " + std::string(found));
  return std::nullopt;
}

// `tls = { ca_file, cert_file, key_file, insecure_skip_verify }` of a source or the cluster.
void ParseTls(TableReader& r, TlsOptions* tls) {
  const toml::table* t = r.Table("tls");
  if (t == nullptr) return;
  TableReader tr(*t, r.KeyPath("tls"), r.file(), r.diags());
  if (auto f = tr.String("ca_file")) tls->ca_file = Resolve(r.file(), *f);
  if (auto f = tr.String("cert_file")) tls->cert_file = Resolve(r.file(), *f);
  if (auto f = tr.String("key_file")) tls->key_file = Resolve(r.file(), *f);
  if (auto b = tr.Bool("insecure_skip_verify")) {
    tls->insecure_skip_verify = *b;
    if (*b) {
      tr.Warning("insecure_skip_verify",
                 "the server's certificate is not verified: anyone on the path can answer in its "
                 "name, and feed rollbackd numbers that roll a healthy service back");
    }
  }
  if (tr.Has("cert_file") != tr.Has("key_file")) {
    tr.Error(tr.Has("cert_file") ? "cert_file" : "key_file",
             "a client certificate needs both cert_file and key_file");
  }
  tr.Finish();
}

PrometheusSource ParseSource(TableReader& r, std::string name) {
  PrometheusSource p;
  p.name = std::move(name);
  p.where = r.Where();
  if (!IsValidName(p.name)) {
    r.diags()->Error(r.Where(), r.KeyPath(""), "invalid source name " + Quote(p.name));
  }
  if (auto url = r.String("url", true)) {
    p.url = *url;
    if (!IsHttpUrl(p.url)) r.Error("url", "expected an http:// or https:// URL");
    while (!p.url.empty() && p.url.back() == '/') p.url.pop_back();
  }
  if (auto d = PositiveDuration(r, "timeout", false)) p.timeout = *d;
  // A Date header has whole seconds, which the measurement allows for already; below a second
  // the bound would say nothing more.
  if (auto d = PositiveDuration(r, "max_clock_skew", false)) {
    if (*d < std::chrono::seconds(1)) {
      r.Error("max_clock_skew",
              "must be at least 1s (a Date header has whole seconds); usually 5s to 30s");
    } else {
      p.max_clock_skew = *d;
    }
  }
  if (auto f = r.String("bearer_token_file")) p.bearer_token_file = Resolve(r.file(), *f);
  if (const toml::table* t = r.Table("basic_auth")) {
    TableReader br(*t, r.KeyPath("basic_auth"), r.file(), r.diags());
    if (auto u = br.String("username", true)) p.basic_auth_username = *u;
    if (auto f = br.String("password_file", true)) p.basic_auth_password_file = Resolve(r.file(), *f);
    br.Finish();
  }
  if (r.Has("bearer_token_file") && r.Has("basic_auth")) {
    r.Error("basic_auth", "set either bearer_token_file or basic_auth, not both");
  }
  if (auto h = r.HeaderTable("headers")) p.headers = *h;
  ParseTls(r, &p.tls);
  r.Finish();
  return p;
}

// [cluster]: see ClusterSettings. etcd grants leases in whole seconds, and a member renews its
// lease every third of it: a request must be able to fail and be retried within that time.
std::optional<ClusterSettings> ParseCluster(TableReader& r) {
  ClusterSettings c;
  c.where = r.Where();
  if (auto n = r.String("name", true)) {
    c.name = *n;
    if (!IsValidName(c.name)) r.Error("name", "invalid member name " + Quote(c.name));
  }
  if (auto urls = r.StringArray("etcd", true)) {
    if (urls->empty()) r.Error("etcd", "expected at least one etcd client URL");
    for (std::string url : *urls) {
      if (!IsHttpUrl(url)) {
        r.Error("etcd", "expected http:// or https:// URLs, e.g. \"http://127.0.0.1:2379\"");
        break;
      }
      while (!url.empty() && url.back() == '/') url.pop_back();
      c.etcd.push_back(std::move(url));
    }
  }
  if (auto p = r.String("prefix")) {
    std::string prefix = *p;
    while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
    if (prefix.empty() || prefix[0] != '/' || prefix == "/") {
      r.Error("prefix", "expected a key prefix starting with '/', e.g. \"/rollbackd\"");
    } else {
      c.prefix = prefix;
    }
  }
  if (auto d = PositiveDuration(r, "lease_ttl", false)) {
    if (*d < std::chrono::seconds(2) || *d % std::chrono::seconds(1) != Duration(0)) {
      r.Error("lease_ttl", "must be a whole number of seconds, at least 2s");
    } else {
      c.lease_ttl = *d;
    }
  }
  if (auto d = PositiveDuration(r, "timeout", false)) {
    c.timeout = *d;
  } else {
    c.timeout = std::min<Duration>(c.timeout, c.lease_ttl / 4);
  }
  if (c.timeout * 3 > c.lease_ttl) {
    r.Error("timeout", "must be at most a third of lease_ttl (" + FormatDuration(c.lease_ttl) +
                           "): the lease is renewed every third of it");
  }
  if (auto u = r.String("username")) c.username = *u;
  if (auto f = r.String("password_file")) c.password_file = Resolve(r.file(), *f);
  if (r.Has("username") != r.Has("password_file")) {
    r.Error(r.Has("username") ? "username" : "password_file",
            "etcd authentication needs both username and password_file");
  }
  ParseTls(r, &c.tls);
  r.Finish();
  return c;
}

Channel ParseChannel(TableReader& r, std::string name) {
  Channel c;
  c.name = std::move(name);
  c.where = r.Where();
  if (!IsValidName(c.name)) {
    r.diags()->Error(r.Where(), r.KeyPath(""), "invalid channel name " + Quote(c.name));
  }
  auto type = r.String("type", true);
  auto url = r.String("url");
  auto command = r.StringArray("command");
  auto secret = r.String("secret_file");
  if (auto d = PositiveDuration(r, "timeout", false)) c.timeout = *d;
  c.min_severity = ReadSeverity(r, "min_severity");
  if (auto n =
          ReadCount(r, "max_retries", 0, "must not be negative (0: one attempt, never retried)")) {
    c.max_retries = static_cast<int>(*n);
  }
  c.max_age = PositiveDuration(r, "max_age", false);
  if (auto t = ReadTemplate(r, "title")) c.title = *t;
  if (auto t = ReadTemplate(r, "text")) c.text = *t;
  if (auto d = PositiveDuration(r, "resend", false)) {
    if (*d < std::chrono::seconds(1)) {
      r.Error("resend", "must be at least 1s (each resend posts every firing alert again)");
    } else {
      c.resend = *d;
    }
  }
  if (type) {
    static const std::pair<std::string_view, ChannelType> kTypes[] = {
        {"webhook", ChannelType::kWebhook},
        {"slack", ChannelType::kSlack},
        {"alertmanager", ChannelType::kAlertmanager},
        {"exec", ChannelType::kExec},
        {"log", ChannelType::kLog}};
    auto it = std::find_if(std::begin(kTypes), std::end(kTypes),
                           [&](const auto& p) { return p.first == *type; });
    if (it == std::end(kTypes)) {
      r.Error("type", "unknown channel type " + Quote(*type) +
                          " (webhook, slack, alertmanager, exec or log)");
    } else {
      c.type = it->second;
      const bool needs_url = c.type == ChannelType::kWebhook || c.type == ChannelType::kSlack ||
                             c.type == ChannelType::kAlertmanager;
      if (needs_url && !r.Has("url")) {
        r.diags()->Error(r.Where(), r.KeyPath("url"),
                         "missing required key (" + Article(*type) + " " + *type + " channel posts to a URL)");
      } else if (!needs_url && r.Has("url")) {
        r.Error("url", Article(*type) + " " + *type + " channel has no url");
      }
      if (c.type == ChannelType::kExec && !r.Has("command")) {
        r.diags()->Error(r.Where(), r.KeyPath("command"),
                         "missing required key (an exec channel runs a command)");
      } else if (c.type != ChannelType::kExec && r.Has("command")) {
        r.Error("command", "only an exec channel has a command");
      }
      if (r.Has("secret_file") && c.type != ChannelType::kWebhook) {
        r.Error("secret_file", "only a webhook channel signs its requests");
      }
      if (c.type != ChannelType::kSlack && c.type != ChannelType::kAlertmanager) {
        const std::string what = c.type == ChannelType::kWebhook ? "sends the event JSON as it is"
                                 : c.type == ChannelType::kExec  ? "gets the event JSON on stdin"
                                                                 : "writes one line per event";
        for (std::string_view key : {"title", "text"}) {
          if (!r.Has(key)) continue;
          r.Error(key, "only slack and alertmanager channels take a `" + std::string(key) +
                           "` template; " + Article(*type) + " " + *type + " channel " + what);
        }
      }
      if (r.Has("resend") && c.type != ChannelType::kAlertmanager) {
        r.Error("resend", "only an alertmanager channel re-sends firing alerts");
      }
    }
  }
  if (url) {
    c.url = *url;
    if (!IsHttpUrl(c.url)) r.Error("url", "expected an http:// or https:// URL");
  }
  if (command) {
    if (command->empty() || (*command)[0].empty()) {
      r.Error("command", "empty command: give the program and its arguments");
    }
    c.command = *command;
    if (!c.command.empty() && c.command[0].find('/') != std::string::npos) {
      c.command[0] = Resolve(r.file(), c.command[0]);
    }
  }
  if (secret) c.secret_file = Resolve(r.file(), *secret);
  r.Finish();
  return c;
}

// What std::regex must not be given, as the reason; "" when `re` may be compiled. Routes match as
// Alertmanager's do, with RE2's syntax in mind: RE2 has no back-references and caps a repeat count
// at 1000. libstdc++ reads such numbers into a long without a bound (signed overflow, undefined
// behaviour: found by fuzz/daemon_config_fuzz.cc with \8888888888888888888), and a large count
// builds one state per repetition.
std::string RegexProblem(std::string_view re) {
  constexpr int kMaxRepeat = 1000;
  const auto digit = [&](size_t i) { return i < re.size() && re[i] >= '0' && re[i] <= '9'; };
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '\\') {
      if (digit(i + 1) && re[i + 1] != '0') return "back-references (\\1) are not supported";
      ++i;  // the escaped character is never special here
      continue;
    }
    if (re[i] == '[') {  // a class: its braces and digits are literal
      size_t j = i + 1;
      if (j < re.size() && re[j] == '^') ++j;
      if (j < re.size() && re[j] == ']') ++j;
      while (j < re.size() && re[j] != ']') j += re[j] == '\\' ? 2 : 1;
      i = j;
      continue;
    }
    if (re[i] != '{') continue;
    // {n}, {n,} or {n,m}: each count at most kMaxRepeat. Anything else is left to std::regex.
    for (size_t j = i + 1; digit(j) || (j < re.size() && re[j] == ','); ++j) {
      if (!digit(j) || (j > i + 1 && digit(j - 1))) continue;
      int count = 0;
      for (size_t k = j; digit(k); ++k) {
        count = count * 10 + (re[k] - '0');
        if (count > kMaxRepeat) {
          return "a repeat count above " + std::to_string(kMaxRepeat) + " (RE2's limit)";
        }
      }
    }
  }
  return "";
}

Route ParseRoute(TableReader& r) {
  Route route;
  route.where = r.Where();
  if (auto match = r.StringTable("match")) {
    for (const auto& [label, value] : *match) {
      if (!IsValidLabelName(label)) {
        r.diags()->Error(r.KeyWhere("match", label), r.KeyPath("match." + label),
                         "invalid label name");
      }
      route.matchers.push_back({label, value, false});
    }
  }
  if (auto match = r.StringTable("match_re")) {
    for (const auto& [label, value] : *match) {
      if (!IsValidLabelName(label)) {
        r.diags()->Error(r.KeyWhere("match_re", label), r.KeyPath("match_re." + label),
                         "invalid label name");
      }
      if (std::string problem = RegexProblem(value); !problem.empty()) {
        r.diags()->Error(r.Where("match_re", label), r.KeyPath("match_re." + label),
                         "invalid regular expression " + Quote(value) + ": " + problem);
      } else {
        try {
          std::regex re(value, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          r.diags()->Error(r.Where("match_re", label), r.KeyPath("match_re." + label),
                           "invalid regular expression " + Quote(value) + ": " + e.what());
        }
      }
      route.matchers.push_back({label, value, true});
    }
  }
  if (auto channels = r.StringArray("channels", true)) {
    if (channels->empty()) r.Error("channels", "a route needs at least one channel");
    route.channels = *channels;
  }
  route.repeat = PositiveDuration(r, "repeat", false);
  if (auto d = PositiveDuration(r, "group_wait", false, /*allow_zero=*/true)) {
    if (*d > kMaxGroupWait) {
      r.Error("group_wait", "a group_wait of " + FormatDuration(*d) +
                                " holds back the first notification too long (at most " +
                                FormatDuration(kMaxGroupWait) + "; usually 10s to 1m)");
    } else {
      route.group_wait = *d;
    }
  }
  if (auto b = r.Bool("send_resolved")) route.send_resolved = *b;
  if (auto c = r.Bool("continue")) route.continue_matching = *c;
  r.Finish();
  return route;
}

}  // namespace

Config ParseDaemonConfigTable(const toml::table& root, const std::string& file,
                              Diagnostics* diags) {
  Config c;
  c.file = file;
  const bool has_daemon_keys = root.contains("daemon") || root.contains("prometheus") ||
                               root.contains("channel") || root.contains("route") ||
                               root.contains("outbox") || root.contains("cluster");
  if (FileKind kind = GuessFileKind(root);
      !has_daemon_keys && (kind == FileKind::kRuleFile || kind == FileKind::kRuleTest)) {
    diags->Error({file, 0, 0}, "",
                 "this is " + std::string(FileKindName(kind)) + ", not a daemon config" +
                     (kind == FileKind::kRuleFile
                          ? "; check it with `rollbackd check " + file +
                                "`, or name it in [daemon].rules"
                          : "; run it with `rollbackd test " + file + "`"));
    return c;
  }
  TableReader r(root, "", file, diags);
  if (const toml::table* t = r.Table("daemon")) {
    TableReader dr(*t, "daemon", file, diags);
    if (auto v = dr.String("listen")) {
      if (v->rfind(':') == std::string::npos) {
        dr.Error("listen", "expected host:port, e.g. \"127.0.0.1:9464\"");
      }
      c.daemon.listen = *v;
    }
    if (auto v = dr.String("state_dir")) c.daemon.state_dir = Resolve(file, *v);
    if (auto v = dr.StringArray("rules")) c.daemon.rules = *v;
    if (auto d = PositiveDuration(dr, "interval", false)) c.daemon.interval = *d;
    if (auto b = dr.Bool("dry_run")) c.daemon.dry_run = *b;
    if (auto v = dr.String("api_token_file")) c.daemon.api_token_file = Resolve(file, *v);
    c.daemon.brake = ParseBrake(dr, "brake");
    if (auto v = dr.String("external_url")) {
      std::string url = *v;
      while (url.size() > 1 && url.back() == '/' && IsHttpUrl(url.substr(0, url.size() - 1))) {
        url.pop_back();
      }
      // A host must follow the scheme: "https:///x" is a typo, not a link.
      const size_t host = url.find("://") + 3;
      if (!IsHttpUrl(url) || url[host] == '/') {
        dr.Error("external_url",
                 "expected an http:// or https:// URL, e.g. \"https://rollbackd.example.com\"");
      } else {
        c.daemon.external_url = url;
      }
    }
    if (auto names = dr.StringArray("server_names")) {
      for (const std::string& name : *names) {
        const bool ok =
            !name.empty() && name.size() <= 253 &&
            std::all_of(name.begin(), name.end(), [](char ch) {
              return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-';
            });
        if (!ok) {
          dr.Error("server_names", "`" + OneLine(name) +
                                       "` is not a host name (letters, digits, '.' and '-', no "
                                       "port), e.g. \"rollbackd.example.com\"");
        }
      }
      c.daemon.server_names = *names;
    }
    dr.Finish();
  }
  if (const toml::table* t = r.Table("outbox")) {
    TableReader orr(*t, "outbox", file, diags);
    if (auto n = ReadCount(orr, "max_entries", 1, "must be at least 1")) {
      c.outbox.max_entries = static_cast<size_t>(*n);
    }
    if (auto b = ReadByteSize(orr, *t, "max_bytes")) {
      if (*b < kMinOutboxBytes) {
        orr.Error("max_bytes", "must be at least 64KiB (65536 bytes)");
      } else {
        c.outbox.max_bytes = *b;
      }
    }
    if (auto d = PositiveDuration(orr, "max_age", false)) c.outbox.max_age = *d;
    orr.Finish();
  }
  if (const toml::table* t = r.Table("cluster")) {
    TableReader cr(*t, "cluster", file, diags);
    c.cluster = ParseCluster(cr);
  }
  if (const toml::table* t = r.Table("prometheus")) {
    for (auto&& [name, node] : *t) {
      std::string path = "prometheus." + std::string(name.str());
      if (const auto* st = node.as_table()) {
        TableReader sr(*st, path, file, diags);
        c.sources.push_back(ParseSource(sr, std::string(name.str())));
      } else {
        diags->Error(LocationOf(node.source(), file), path,
                     "expected a table ([prometheus." + std::string(name.str()) + "])");
      }
    }
  }
  if (const toml::table* t = r.Table("channel")) {
    for (auto&& [name, node] : *t) {
      std::string path = "channel." + std::string(name.str());
      if (const auto* ct = node.as_table()) {
        TableReader cr(*ct, path, file, diags);
        c.channels.push_back(ParseChannel(cr, std::string(name.str())));
      } else {
        diags->Error(LocationOf(node.source(), file), path,
                     "expected a table ([channel." + std::string(name.str()) + "])");
      }
    }
  }
  if (const toml::array* routes = r.Array("route")) {
    for (size_t i = 0; i < routes->size(); ++i) {
      std::string path = "route[" + std::to_string(i) + "]";
      const toml::node& n = *routes->get(i);
      if (const auto* rt = n.as_table()) {
        TableReader rr(*rt, path, file, diags);
        c.routes.push_back(ParseRoute(rr));
        // Routes name channels of this same file ([channel.*] is read above). A non-empty
        // route.channels means `channels` is an array of strings, one per name.
        const Route& route = c.routes.back();
        const toml::array* names = (*rt)["channels"].as_array();
        for (size_t j = 0; j < route.channels.size(); ++j) {
          if (c.FindChannel(route.channels[j]) == nullptr) {
            diags->Error(LocationOf(names->get(j)->source(), file),
                         path + ".channels[" + std::to_string(j) + "]",
                         "unknown channel " + Quote(route.channels[j]));
          }
        }
      } else {
        diags->Error(LocationOf(n.source(), file), path, "expected a table ([[route]])");
      }
    }
  }
  r.Finish();
  return c;
}

}  // namespace rollbackd::config_internal
