// The service's subcommands: `serve` (the whole lifecycle) and `migrate`.
#pragma once

#include "config.hpp"

namespace flashsale {

/// Exit codes shared by the subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  ///< a runtime failure (database down, port taken, ...)
inline constexpr int kExitRefused = 2;  ///< bad usage, bad config, or a refused required plugin

/// Runs the service until SIGINT/SIGTERM; returns the process exit code.
int serve(const Config& config);
/// Loads the plugins, lets each bring its own schema up to date, and returns the exit code.
int migrate(const Config& config);

}  // namespace flashsale
