// `replay --html FILE`: one self-contained HTML page (inline SVG and CSS; no script, font or style
// from anywhere else, so it opens on an offline host and can be mailed). One panel per trigger and
// label set (at most ReplayOptions::max_series_per_trigger each): the value over time, the
// effective threshold (moving with its baseline), pending and firing shaded, deploy and rollback
// markers, and each event as a marker whose tooltip is its reason. Every text that comes from
// Prometheus or a rule file is HTML-escaped.
#ifndef ROLLBACKD_REPLAY_HTML_PLOT_H_
#define ROLLBACKD_REPLAY_HTML_PLOT_H_

#include <ostream>
#include <string>
#include <string_view>

#include "daemon/replay/replayer.h"

namespace rollbackd {

// At most this many time buckets per panel: a week at 15 s is drawn from its minimum and maximum
// per bucket, so the file stays small whatever the window.
inline constexpr size_t kPlotBuckets = 1200;

// `r` must have been recorded with ReplayOptions::record_series.
void WriteHtmlReport(const ReplayResult& r, std::ostream& out);

// & < > " ' as entities.
std::string HtmlEscape(std::string_view s);

}  // namespace rollbackd

#endif  // ROLLBACKD_REPLAY_HTML_PLOT_H_
