// Static advice about [[route]]: routes that can never match, events that no route takes, channels
// that no route names, options that cannot take effect. Everything here is a warning: a
// configuration that routes badly still runs (events are always logged and written to the
// decision log), but `rollbackd check` and the daemon's log say what will never be delivered.
#ifndef ROLLBACKD_CONFIG_ROUTE_CHECK_H_
#define ROLLBACKD_CONFIG_ROUTE_CHECK_H_

#include "daemon/config/diagnostics.h"
#include "daemon/config/model.h"

namespace rollbackd {

// Adds warnings (never errors) to `diags`, each at the route (key "route[i]"), the service (key
// "route") or the channel (key "channel.<name>") concerned. `config` must be valid (as LoadConfig
// returns it: regexes compile, channels exist). Service and trigger names are checked, and
// unrouted events looked for, only when `config.services` is not empty.
//
// The analysis is sound in one direction: a warning means the problem is certain, as far as the
// configuration tells. Labels that only Prometheus series bring (at run time) might hold any
// value, so a matcher on them is taken as "might match" and never causes a warning.
void CheckRoutes(const Config& config, Diagnostics* diags);

}  // namespace rollbackd

#endif  // ROLLBACKD_CONFIG_ROUTE_CHECK_H_
