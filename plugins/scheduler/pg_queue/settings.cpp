// See settings.hpp.
#include "settings.hpp"

#include <algorithm>
#include <flashsale/sdk/settings.hpp>
#include <stdexcept>

namespace flashsale::plugins::pg_queue {

Settings parse_settings(const sdk::HostContext& host) {
  sdk::Settings in(host);
  Settings s;
  s.threads = in.integer("threads", s.threads, 1, 64);
  s.batch_size = in.integer("batch_size", s.batch_size, 1, 1000);
  s.max_attempts = in.integer("max_attempts", s.max_attempts, 1, 1000);
  s.visibility_timeout_s = in.integer("visibility_timeout_s", s.visibility_timeout_s, 1, 86400);
  s.poll_interval_ms = in.integer("poll_interval_ms", s.poll_interval_ms, 10, 60'000);
  s.retention_s = in.integer("retention_s", s.retention_s, 0, 30 * 86400);
  s.backoff_base_ms = in.integer("backoff_base_ms", s.backoff_base_ms, 1, 86'400'000);
  s.backoff_max_ms = in.integer("backoff_max_ms", s.backoff_max_ms, 1, 86'400'000);
  in.done();
  if (s.backoff_max_ms < s.backoff_base_ms) {
    throw std::invalid_argument(in.name("backoff_max_ms") + " must not be below " +
                                in.name("backoff_base_ms"));
  }
  return s;
}

std::chrono::milliseconds retry_delay(const Settings& settings, int failed_attempt,
                                      std::chrono::milliseconds retry_after, std::mt19937_64& rng) {
  // Doubling stops at the cap, so it never overflows.
  long long exponential = settings.backoff_base_ms;
  for (int i = 1; i < failed_attempt && exponential < settings.backoff_max_ms; ++i) {
    exponential *= 2;
  }
  exponential = std::min<long long>(exponential, settings.backoff_max_ms);
  std::uniform_int_distribution<long long> upper_half(exponential - exponential / 2, exponential);
  return std::max(retry_after, std::chrono::milliseconds(upper_half(rng)));
}

}  // namespace flashsale::plugins::pg_queue
