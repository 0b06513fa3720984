// The settings of the pg_queue scheduler (`plugin.pg_queue`), strictly validated, and the retry
// delay they define.
#pragma once

#include <chrono>
#include <flashsale/sdk/host_context.hpp>
#include <random>

namespace flashsale::plugins::pg_queue {

struct Settings {
  int threads = 2;                  ///< worker threads, each with its own connection
  int batch_size = 32;              ///< most jobs one claim takes
  int max_attempts = 8;             ///< the attempt after which a failing job is dead-lettered
  int visibility_timeout_s = 60;    ///< a running job whose worker is silent this long runs again
  int poll_interval_ms = 250;       ///< longest sleep: how soon other instances' jobs are seen
  int retention_s = 3600;           ///< how long done jobs are kept before cleanup deletes them
  int backoff_base_ms = 1000;       ///< delay after the first failed attempt (before jitter)
  int backoff_max_ms = 5 * 60'000;  ///< cap of the exponential delay
};

/// Reads `plugin.pg_queue`; throws std::invalid_argument naming an unknown key or a bad value.
Settings parse_settings(const sdk::HostContext& host);

/// How long to wait before attempt `failed_attempt + 1`: the exponential delay
/// min(backoff_max, backoff_base * 2^(failed_attempt - 1)) with "equal jitter" (a uniformly
/// random point in its upper half, so instances that failed together spread out but the delay
/// still grows), and never less than what the handler asked for.
std::chrono::milliseconds retry_delay(const Settings& settings, int failed_attempt,
                                      std::chrono::milliseconds retry_after, std::mt19937_64& rng);

}  // namespace flashsale::plugins::pg_queue
