#include "daemon/replay/html_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "daemon/replay/report.h"

namespace rollbackd {
namespace {

constexpr double kWidth = 960, kHeight = 220;
constexpr double kLeft = 70, kRight = 10, kTop = 18, kBottom = 26;

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Coordinates, to 0.1 px.
std::string Px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

bool Covers(const Labels& series, const LabelMap& event) {
  for (auto [name, value] : series.pairs()) {
    auto it = event.find(std::string(name));
    if (it == event.end() || it->second != value) return false;
  }
  return true;
}

const char* MarkerColour(EventKind k) {
  switch (k) {
    case EventKind::kTriggerPending:
      return "#d9a400";
    case EventKind::kTriggerFiring:
    case EventKind::kRollbackStarted:
    case EventKind::kRollbackFailed:
    case EventKind::kRollbackNotRecovered:
      return "#c62828";
    case EventKind::kTriggerResolved:
    case EventKind::kRollbackSucceeded:
    case EventKind::kRollbackVerified:
      return "#2e7d32";
    default:
      return "#555";
  }
}

class Panel {
 public:
  Panel(const ReplayResult& r, const PlotSeries& s) : r_(r), s_(s) {
    t0_ = static_cast<double>(r.from.time_since_epoch().count());
    t1_ = std::max(t0_ + 1, static_cast<double>(r.to.time_since_epoch().count()));
    lo_ = std::numeric_limits<double>::infinity();
    hi_ = -lo_;
    for (const PlotSeries::Point& p : s.points) {
      for (double v : {p.value, p.threshold}) {
        if (!std::isfinite(v)) continue;
        lo_ = std::min(lo_, v);
        hi_ = std::max(hi_, v);
      }
    }
    if (!std::isfinite(lo_)) lo_ = 0, hi_ = 1;
    if (hi_ - lo_ < 1e-12) {
      const double pad = std::abs(hi_) > 0 ? std::abs(hi_) * 0.1 : 1;
      lo_ -= pad;
      hi_ += pad;
    }
    const double pad = (hi_ - lo_) * 0.08;
    lo_ -= pad;
    hi_ += pad;
  }

  void Write(std::ostream& out) {
    out << "<section class=\"panel\"><h2>" << HtmlEscape(s_.service) << "/"
        << HtmlEscape(s_.trigger);
    if (!s_.labels.empty())
      out << " <span class=\"labels\">" << HtmlEscape(s_.labels.ToString()) << "</span>";
    out << "</h2>\n<svg viewBox=\"0 0 " << kWidth << " " << kHeight << "\" width=\"" << kWidth
        << "\" height=\"" << kHeight << "\" role=\"img\">\n";
    Frame(out);
    States(out);
    Lines(out);
    Markers(out);
    out << "</svg></section>\n";
  }

 private:
  double X(Time t) const {
    const double ms = static_cast<double>(t.time_since_epoch().count());
    return kLeft + (ms - t0_) / (t1_ - t0_) * (kWidth - kLeft - kRight);
  }
  double Y(double v) const { return kTop + (hi_ - v) / (hi_ - lo_) * (kHeight - kTop - kBottom); }

  void Frame(std::ostream& out) {
    out << "<rect class=\"plot\" x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\""
        << kWidth - kLeft - kRight << "\" height=\"" << kHeight - kTop - kBottom << "\"/>\n";
    for (int i = 0; i <= 4; ++i) {
      const double v = lo_ + (hi_ - lo_) * i / 4;
      out << "<text class=\"axis\" x=\"" << kLeft - 4 << "\" y=\"" << Px(Y(v) + 4)
          << "\" text-anchor=\"end\">" << Num(v) << "</text>\n";
    }
    out << "<text class=\"axis\" x=\"" << kLeft << "\" y=\"" << kHeight - 8 << "\">"
        << FormatTime(r_.from) << "</text><text class=\"axis\" x=\"" << kWidth - kRight << "\" y=\""
        << kHeight - 8 << "\" text-anchor=\"end\">" << FormatTime(r_.to) << "</text>\n";
  }

  // Pending and firing as shaded spans: from an evaluation in that state to the next evaluation.
  void States(std::ostream& out) {
    const auto& p = s_.points;
    size_t i = 0, drawn = 0;
    while (i < p.size() && drawn < 4 * kPlotBuckets) {
      if (p[i].state == PlotSeries::kInactive) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j + 1 < p.size() && p[j + 1].state == p[i].state) ++j;
      const Time end = j + 1 < p.size() ? p[j + 1].time : p[j].time;
      const double x0 = X(p[i].time), x1 = std::max(X(end), x0 + 1);
      out << "<rect class=\"" << (p[i].state == PlotSeries::kFiring ? "firing" : "pending")
          << "\" x=\"" << Px(x0) << "\" y=\"" << kTop << "\" width=\"" << Px(x1 - x0)
          << "\" height=\"" << kHeight - kTop - kBottom << "\"><title>"
          << (p[i].state == PlotSeries::kFiring ? "firing" : "pending") << " from "
          << FormatTime(p[i].time) << " to " << FormatTime(end) << "</title></rect>\n";
      ++drawn;
      i = j + 1;
    }
  }

  // The value (each bucket's minimum and maximum, in time order) and the threshold (each
  // bucket's last), broken where unknown.
  void Lines(std::ostream& out) {
    const auto& p = s_.points;
    const double span = (t1_ - t0_) / kPlotBuckets;
    std::string value_path, threshold_path;
    bool value_open = false, threshold_open = false;
    size_t i = 0;
    while (i < p.size()) {
      const double b =
          std::floor((static_cast<double>(p[i].time.time_since_epoch().count()) - t0_) / span);
      size_t j = i;
      double lo = std::numeric_limits<double>::infinity(), hi = -lo;
      Time lo_t{}, hi_t{};
      double threshold = std::numeric_limits<double>::quiet_NaN();
      Time threshold_t{};
      bool gap = false;
      while (j < p.size() &&
             std::floor((static_cast<double>(p[j].time.time_since_epoch().count()) - t0_) / span) ==
                 b) {
        if (std::isfinite(p[j].value)) {
          if (p[j].value < lo) lo = p[j].value, lo_t = p[j].time;
          if (p[j].value > hi) hi = p[j].value, hi_t = p[j].time;
        } else {
          gap = true;
        }
        if (std::isfinite(p[j].threshold)) threshold = p[j].threshold, threshold_t = p[j].time;
        ++j;
      }
      if (std::isfinite(lo)) {
        const bool lo_first = lo_t <= hi_t;
        for (int k = 0; k < 2; ++k) {
          const bool low = (k == 0) == lo_first;
          value_path +=
              (value_open ? " L" : " M") + Px(X(low ? lo_t : hi_t)) + "," + Px(Y(low ? lo : hi));
          value_open = true;
        }
      }
      if (gap && !std::isfinite(lo)) value_open = false;
      if (std::isfinite(threshold)) {
        threshold_path +=
            (threshold_open ? " L" : " M") + Px(X(threshold_t)) + "," + Px(Y(threshold));
        threshold_open = true;
      } else {
        threshold_open = false;
      }
      i = j;
    }
    if (!threshold_path.empty()) {
      out << "<path class=\"threshold\" d=\"" << threshold_path
          << "\"><title>effective threshold</title></path>\n";
    }
    if (!value_path.empty()) {
      out << "<path class=\"value\" d=\"" << value_path << "\"><title>value</title></path>\n";
    }
  }

  void Markers(std::ostream& out) {
    for (const DeployMark& d : r_.deploys) {
      if (d.service != s_.service) continue;
      const std::string x = Px(X(d.time));
      out << "<line class=\"deploy\" x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << kTop
          << "\" y2=\"" << kHeight - kBottom << "\"><title>deploy " << HtmlEscape(d.version)
          << " at " << FormatTime(d.time) << "</title></line>\n";
    }
    for (const Event& e : r_.events) {
      if (e.service != s_.service) continue;
      const bool rollback =
          e.kind == EventKind::kRollbackStarted || e.kind == EventKind::kRollbackSkipped ||
          e.kind == EventKind::kRollbackSucceeded || e.kind == EventKind::kRollbackFailed ||
          e.kind == EventKind::kRollbackVerified || e.kind == EventKind::kRollbackNotRecovered;
      // A rollback belongs to the service (its outcome names the trigger that caused it); trigger
      // events to their series.
      if (!rollback && (e.trigger != s_.trigger || !Covers(s_.labels, e.labels))) continue;
      const std::string x = Px(X(e.time));
      const std::string title =
          "<title>" + FormatTime(e.time) + " " + HtmlEscape(DescribeEvent(e, true)) + "</title>";
      if (e.kind == EventKind::kRollbackStarted) {
        out << "<line class=\"rollback\" x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << kTop
            << "\" y2=\"" << kHeight - kBottom << "\">" << title << "</line>\n";
      }
      out << "<circle class=\"event\" cx=\"" << x << "\" cy=\"" << (rollback ? kTop + 14 : kTop + 5)
          << "\" r=\"4.5\" fill=\"" << MarkerColour(e.kind) << "\">" << title << "</circle>\n";
    }
  }

  const ReplayResult& r_;
  const PlotSeries& s_;
  double t0_ = 0, t1_ = 1, lo_ = 0, hi_ = 1;
};

constexpr const char* kStyle = R"CSS(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.05em; margin: 1.2em 0 .3em; }
.labels { font-weight: normal; color: #555; font-family: monospace; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: left; }
svg { background: #fff; border: 1px solid #ccc; }
.plot { fill: #fafafa; stroke: #ddd; }
.axis { font-size: 11px; fill: #666; }
.value { fill: none; stroke: #1565c0; stroke-width: 1.3; }
.threshold { fill: none; stroke: #c62828; stroke-width: 1.2; stroke-dasharray: 5 3; }
.pending { fill: #ffe082; fill-opacity: .45; }
.firing { fill: #ef9a9a; fill-opacity: .5; }
.deploy { stroke: #6a1b9a; stroke-width: 1.5; stroke-dasharray: 2 2; }
.rollback { stroke: #c62828; stroke-width: 2; }
.event { stroke: #fff; stroke-width: 1; }
.legend span { margin-right: 1.2em; }
)CSS";

}  // namespace

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

void WriteHtmlReport(const ReplayResult& r, std::ostream& out) {
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "style-src 'unsafe-inline'\">\n"
      << "<title>rollbackd replay " << FormatTime(r.from) << " to " << FormatTime(r.to)
      << "</title>\n<style>" << kStyle << "</style></head><body>\n";
  out << "<h1>rollbackd replay: " << FormatTime(r.from) << " to " << FormatTime(r.to) << "</h1>\n";
  out << "<p class=\"legend\"><span style=\"color:#1565c0\">&#9473; value</span>"
         "<span style=\"color:#c62828\">&#9476; effective threshold</span>"
         "<span style=\"background:#ffe082\">pending</span> <span style=\"background:#ef9a9a\">"
         "firing</span> <span style=\"color:#6a1b9a\">&#8942; deploy</span>"
         "<span style=\"color:#c62828\">&#9475; rollback</span> (hover a marker for its "
         "reason)</p>\n";
  out << "<table><tr><th>service / trigger</th><th>pending</th><th>fired</th>"
         "<th>would have rolled back</th><th>longest firing</th></tr>\n";
  for (const TriggerSummary& t : Summarize(r)) {
    out << "<tr><td>" << HtmlEscape(t.service) << "/" << HtmlEscape(t.trigger) << "</td><td>"
        << t.pending << "</td><td>" << t.fired << "</td><td>" << t.rolled_back << "</td><td>"
        << (t.fired > 0 ? FormatDuration(t.longest_firing) : "-") << "</td></tr>\n";
  }
  out << "</table>\n";
  for (const ServiceReplay& s : r.services) {
    if (s.not_replayed.empty()) continue;
    out << "<p>" << HtmlEscape(s.name) << ": health checks not replayed (no history):";
    for (const std::string& h : s.not_replayed) out << " " << HtmlEscape(h);
    out << "</p>\n";
  }
  if (!r.failures.empty()) {
    out << "<p>" << r.failures.size() << " failed request(s): ";
    for (const QueryFailure& f : r.failures) {
      out << "<br>" << FormatTime(f.first) << " (" << f.steps << " steps) " << HtmlEscape(f.input)
          << ": " << HtmlEscape(f.error.error);
    }
    out << "</p>\n";
  }
  if (r.series_not_plotted > 0) {
    out << "<p>" << r.series_not_plotted << " more label set(s) not plotted.</p>\n";
  }
  for (const PlotSeries& s : r.plots) Panel(r, s).Write(out);
  if (r.plots.empty()) out << "<p>No trigger was evaluated.</p>\n";
  out << "</body></html>\n";
}

}  // namespace rollbackd
