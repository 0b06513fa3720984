// What the tools report: counts by kind, latency figures in milliseconds (the summary line on
// stderr and the fields of the JSON line on stdout), their own CPU time.
#pragma once

#include <sys/resource.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

#include "histogram.hpp"

namespace flashsale::bench {

/// Counts by kind (outcomes, event types, errors), in name order.
using Counts = std::map<std::string, std::uint64_t, std::less<>>;

/// Adds `n` to the count of `key`; once there are `max_kinds` keys, a new key counts as
/// "other" (a misbehaving server cannot blow up the report).
inline void count_into(Counts& counts, std::string_view key, std::size_t max_kinds,
                       std::uint64_t n = 1) {
  if (auto it = counts.find(key); it != counts.end()) {
    it->second += n;
  } else if (counts.size() < max_kinds) {
    counts.emplace(key, n);
  } else {
    counts["other"] += n;
  }
}

inline nlohmann::ordered_json to_json(const Counts& counts) {
  auto j = nlohmann::ordered_json::object();
  for (const auto& [k, v] : counts) j[k] = v;
  return j;
}

/// Keeps a server-provided code safe to print and to use as a JSON key.
inline std::string sanitize_code(std::string_view code) {
  std::string out;
  for (char c : code.substr(0, 48)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    out.push_back(ok ? c : '?');
  }
  return out;
}

inline double to_ms(std::uint64_t micros) { return static_cast<double>(micros) / 1000.0; }

/// Rounds to `digits` decimals so the JSON shows 97.1, not 97.10000000000001.
inline double round_to(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

/// The latency fields of a JSON report: p50_ms, p90_ms, p99_ms, p999_ms, max_ms, mean_ms.
inline nlohmann::ordered_json latency_json(const LatencyHistogram& h) {
  return {
      {"p50_ms", to_ms(h.percentile(50))}, {"p90_ms", to_ms(h.percentile(90))},
      {"p99_ms", to_ms(h.percentile(99))}, {"p999_ms", to_ms(h.percentile(99.9))},
      {"max_ms", to_ms(h.max())},          {"mean_ms", round_to(h.mean() / 1000.0, 3)},
  };
}

/// Streams "p50 A  p90 B  p99 C  p99.9 D  max E  mean F" in milliseconds, with the stream's
/// precision: `s << Percentiles{h}`.
struct Percentiles {
  const LatencyHistogram& h;
};

inline std::ostream& operator<<(std::ostream& s, const Percentiles& p) {
  const auto& h = p.h;
  return s << "p50 " << to_ms(h.percentile(50)) << "  p90 " << to_ms(h.percentile(90)) << "  p99 "
           << to_ms(h.percentile(99)) << "  p99.9 " << to_ms(h.percentile(99.9)) << "  max "
           << to_ms(h.max()) << "  mean " << h.mean() / 1000.0;
}

/// CPU seconds this process used (user + system): if it nears threads x seconds, the tool, not
/// the server, set the pace.
inline double own_cpu_seconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

}  // namespace flashsale::bench
