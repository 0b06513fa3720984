// See settings.hpp.
#include "settings.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

namespace flashsale::plugins::pg_queue {

Settings parse_settings(const nlohmann::json& config) {
  Settings s;
  struct Range {
    int* field;
    long long min;
    long long max;
  };
  const std::map<std::string, Range> keys = {
      {"threads", {&s.threads, 1, 64}},
      {"batch_size", {&s.batch_size, 1, 1000}},
      {"max_attempts", {&s.max_attempts, 1, 1000}},
      {"visibility_timeout_s", {&s.visibility_timeout_s, 1, 86400}},
      {"poll_interval_ms", {&s.poll_interval_ms, 10, 60'000}},
      {"retention_s", {&s.retention_s, 0, 30LL * 86400}},
      {"backoff_base_ms", {&s.backoff_base_ms, 1, 86'400'000}},
      {"backoff_max_ms", {&s.backoff_max_ms, 1, 86'400'000}},
  };
  if (!config.is_object()) throw std::invalid_argument("plugin.pg_queue must be an object");
  for (const auto& [key, value] : config.items()) {
    const auto it = keys.find(key);
    if (it == keys.end()) throw std::invalid_argument("unknown key plugin.pg_queue." + key);
    const auto& range = it->second;
    if (!value.is_number_integer() || value.get<long long>() < range.min ||
        value.get<long long>() > range.max) {
      throw std::invalid_argument("plugin.pg_queue." + key + " must be an integer from " +
                                  std::to_string(range.min) + " to " + std::to_string(range.max));
    }
    *range.field = value.get<int>();
  }
  if (s.backoff_max_ms < s.backoff_base_ms) {
    throw std::invalid_argument(
        "plugin.pg_queue.backoff_max_ms must not be below plugin.pg_queue.backoff_base_ms");
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
