// The typed model of rollbackd.toml and the rule files (the format is documented in docs/rules.md).
// Plain values: the loader fills them after validation, so every field here is already known to be
// consistent (names resolve, exactly one condition, durations positive where they must be).
#ifndef ROLLBACKD_CONFIG_MODEL_H_
#define ROLLBACKD_CONFIG_MODEL_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/diagnostics.h"
#include "daemon/config/duration.h"

namespace rollbackd {

enum class Severity { kInfo, kWarning, kCritical };
enum class NoDataPolicy { kOk, kHold, kBreach };

// How the current value is compared. The *_ratio and *_delta kinds need a baseline.
enum class ConditionKind { kAbove, kBelow, kAboveRatio, kBelowRatio, kAboveDelta, kBelowDelta };
enum class BaselineKind { kNone, kQuery, kSnapshot };

std::string_view SeverityName(Severity s);
std::optional<Severity> ParseSeverity(std::string_view s);
std::string_view NoDataName(NoDataPolicy p);
std::string_view ConditionKeyName(ConditionKind k);  // the rule file key: "above_ratio"

using LabelMap = std::map<std::string, std::string>;

// One step of a trigger's `escalate`: the trigger's condition with a stronger number and a shorter
// hold (docs/rules.md, "Escalation"). A larger breach needs a shorter hold.
struct EscalationStep {
  double threshold = 0;  // the condition's number, as Trigger::threshold
  Duration for_duration{0};
  std::optional<Severity> severity;  // absent: the trigger's
  SourceLocation where;
};

// A trigger's `compare`: its query's samples against its baseline_query's over `window`, by a
// statistical test (docs/rules.md, "Statistical comparison"), instead of one value against a bound.
struct CompareSpec {
  enum class Direction { kIncrease, kDecrease, kEither };  // the bad direction of the query
  Duration window{std::chrono::minutes(10)};
  Direction direction = Direction::kIncrease;
  double confidence = 0.95;  // significance: p < 1 - confidence
  double min_effect = 1.2;   // the ratio of the medians that matters, >= 1
  int min_samples = 20;      // per side; fewer is no data
  SourceLocation where;
};
std::string_view CompareDirectionName(CompareSpec::Direction d);
inline constexpr int kMaxCompareSamples = 2048;  // per side and series: the windows' bound

struct Trigger {
  std::string name;
  std::string source = "default";  // [prometheus.<source>]
  SourceLocation source_where;     // the `source` key, or the trigger when it is absent
  std::string query;
  ConditionKind condition = ConditionKind::kAbove;
  double threshold = 0;  // the condition's number: 0.02 for `above = 0.02`, 1.5 for `above_ratio = 1.5`
  BaselineKind baseline = BaselineKind::kNone;
  std::string baseline_query;          // when baseline == kQuery
  std::optional<double> min_value;     // noise floor: no breach while current < min_value
  std::string min_traffic_query;       // empty: no traffic floor
  double min_traffic = 0;
  Duration for_duration{0};
  // Each stronger and shorter than the one before it, the first than the trigger's own.
  std::vector<EscalationStep> escalate;
  // Set: no condition; a breach is a significant shift of at least min_effect (baseline_query).
  std::optional<CompareSpec> compare;
  Severity severity = Severity::kWarning;
  NoDataPolicy no_data = NoDataPolicy::kOk;
  bool rollback = false;
  LabelMap labels;  // added to this trigger's events
  // `match`: keep only the series whose labels have these values (an absent label counts as ""),
  // in the query, the baseline query and the traffic query alike; empty: every series. Lets one
  // fleet-wide query (sum by (service) ...) serve every service's trigger.
  LabelMap match;
  SourceLocation where;
  SourceLocation name_where;  // the `name` value, or the trigger when it is absent
};

struct HealthCheck {
  std::string name;
  std::string url;
  Duration interval{0};  // 0: the service's interval
  Duration timeout{std::chrono::seconds(1)};
  std::vector<int> expect_status{200};
  Duration for_duration{0};
  Severity severity = Severity::kWarning;
  bool rollback = false;
  LabelMap labels;
  SourceLocation where;
  SourceLocation name_where;  // the `name` value, or the check when it is absent
};

struct Deploy {
  std::string version_query;  // empty: deploys come only from the API
  std::string source = "default";
  SourceLocation source_where;
  std::optional<Duration> guard;  // absent: triggers may roll back at any time
  LabelMap match;  // as Trigger::match, for version_query's series
};

struct HttpHook {
  std::string url;
  std::string method = "POST";
  std::string secret_file;  // optional: signs the request like a webhook
  std::map<std::string, std::string> headers;
  // Optional authentication, read from files (never from the rule file), like a Prometheus source.
  std::string bearer_token_file;
  std::string basic_auth_username;
  std::string basic_auth_password_file;
};

struct RollbackHook {
  std::vector<std::string> exec;  // argv; exactly one of exec / http is set
  std::optional<HttpHook> http;
  Duration timeout{std::chrono::minutes(2)};
  Duration cooldown{std::chrono::minutes(30)};
  Duration verify{std::chrono::minutes(5)};
  SourceLocation where;
};

struct Service {
  std::string name;
  std::string file;
  LabelMap labels;
  std::optional<Duration> interval;  // absent: the daemon's interval
  bool dry_run = false;              // this service only; the daemon's dry_run covers all
  std::vector<Trigger> triggers;
  std::vector<HealthCheck> health;
  std::optional<Deploy> deploy;
  std::optional<RollbackHook> rollback;  // absent: the service is alert-only
  SourceLocation where;
};

struct TlsOptions {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
};

struct PrometheusSource {
  std::string name;
  std::string url;
  Duration timeout{std::chrono::seconds(5)};
  // The most Prometheus's clock (its answers' Date header) may differ from the daemon's before
  // its answers are held as errors: docs/operations.md#clocks.
  Duration max_clock_skew{std::chrono::seconds(5)};
  std::string bearer_token_file;
  std::string basic_auth_username;
  std::string basic_auth_password_file;
  std::map<std::string, std::string> headers;
  TlsOptions tls;
  SourceLocation where;
};

enum class ChannelType { kWebhook, kSlack, kAlertmanager, kExec, kLog };
std::string_view ChannelTypeName(ChannelType t);

struct Channel {
  std::string name;
  ChannelType type = ChannelType::kLog;
  std::string url;                   // webhook, slack, alertmanager
  std::vector<std::string> command;  // exec: argv, the event JSON on stdin
  std::string secret_file;           // webhook: HMAC key
  Duration timeout{std::chrono::seconds(5)};  // one attempt: an HTTP request, an exec run
  std::optional<Severity> min_severity;
  // Delivery: a notification is retried (exponential backoff with jitter) until the receiver
  // takes it, until max_retries retries were made (absent: no limit), or until it is older than
  // max_age (absent: [outbox].max_age).
  std::optional<int> max_retries;
  std::optional<Duration> max_age;
  // Templates (daemon/config/template.h); empty: the channel's built-in text.
  // slack: title = the message's header and notification text, text = the body section;
  // alertmanager: title = the `summary` annotation, text = the `description` annotation.
  std::string title;
  std::string text;
  // alertmanager: how often alerts still firing are sent again (Alertmanager resolves an alert
  // that is not re-sent before its endsAt, which is 4 x resend after the send).
  Duration resend{std::chrono::minutes(1)};
  SourceLocation where;
};

struct RouteMatcher {
  std::string label;
  std::string value;  // literal for `match`, an ECMAScript regex (anchored) for `match_re`
  bool regex = false;
};

struct Route {
  std::vector<RouteMatcher> matchers;  // all must hold; none: every event
  std::vector<std::string> channels;
  std::optional<Duration> repeat;  // re-notify a still-firing trigger this often
  // Events of one service that reach this route within group_wait of the first go out together,
  // on channels that can carry several (slack, alertmanager). 0: at once.
  Duration group_wait{0};
  bool send_resolved = true;  // trigger.resolved (and source.up) events go to this route's channels
  bool continue_matching = false;
  SourceLocation where;
};

// [daemon].brake: when rolling back would exceed max_rollbacks within window (across services, or
// per group of services with the same values of the `by` labels), decisions are held instead
// (docs/rules.md, "The fleet brake"): many services breaching at once share a cause.
struct BrakeSettings {
  int max_rollbacks = 3;
  Duration window{std::chrono::minutes(10)};
  std::vector<std::string> by;  // service labels; empty: one group of every service
  SourceLocation where;
};

struct DaemonSettings {
  std::string listen = "127.0.0.1:9464";
  std::string state_dir = "/var/lib/rollbackd";
  std::vector<std::string> rules;  // globs as written, relative to the config file
  Duration interval{std::chrono::seconds(15)};
  bool dry_run = false;
  std::string api_token_file;
  // Where people reach this daemon's API (as Prometheus' --web.external-url): links in Slack
  // messages and Alertmanager's generatorURL. Empty: no links.
  std::string external_url;
  // DNS names the API answers to besides IP addresses and localhost (and external_url's host),
  // e.g. the name a TLS proxy in front of it serves. Other Host headers get 421.
  std::vector<std::string> server_names;
  std::optional<BrakeSettings> brake;
};

// [outbox]: the durable queue of notifications in state_dir. When it is full the oldest
// notification is dropped (logged and counted) to make room.
struct OutboxSettings {
  size_t max_entries = 10000;
  uint64_t max_bytes = 64ull << 20;
  Duration max_age{std::chrono::hours(12)};  // default for every channel's max_age
};

// [cluster]: members share services through etcd (docs/operations.md, "Cluster mode"). Absent:
// standalone, everything in state_dir.
struct ClusterSettings {
  std::string name;                // this member, unique in the cluster
  std::vector<std::string> etcd;   // client URLs, tried in turn
  std::string prefix = "/rollbackd";
  Duration lease_ttl{std::chrono::seconds(10)};
  Duration timeout{std::chrono::seconds(2)};  // one etcd request
  TlsOptions tls;
  std::string username;
  std::string password_file;
  SourceLocation where;
};

struct Config {
  std::string file;  // the rollbackd.toml it came from; empty when built from rule files alone
  DaemonSettings daemon;
  OutboxSettings outbox;
  std::optional<ClusterSettings> cluster;
  std::vector<PrometheusSource> sources;
  std::vector<Channel> channels;
  std::vector<Route> routes;
  std::vector<Service> services;

  const PrometheusSource* FindSource(std::string_view name) const;
  const Channel* FindChannel(std::string_view name) const;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_CONFIG_MODEL_H_
