// --self-test: the bookkeeping of checks, and the checks of the shared pieces (every tool runs
// them before its own).
#pragma once

#include <cmath>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "histogram.hpp"
#include "timing.hpp"

namespace flashsale::bench {

/// Counts the failed checks, naming each on stderr.
class Checks {
 public:
  void operator()(bool ok, const std::string& what) {
    if (!ok) {
      ++failures_;
      std::cerr << "FAIL: " << what << "\n";
    }
  }
  [[nodiscard]] bool passed() const { return failures_ == 0; }

 private:
  int failures_ = 0;
};

/// Whether `parse` accepts the command line `args`.
template <typename Parse>
bool parses(Parse parse, const std::vector<std::string>& args) {
  try {
    parse(args);
    return true;
  } catch (const UsageError&) {
    return false;
  }
}

/// The histogram and the parsing of times.
inline void check_common(Checks& check) {
  // Bucket boundaries: contiguous, and every value maps into its own bucket.
  for (std::size_t i = 0; i + 1 < LatencyHistogram::index_of(LatencyHistogram::kMaxMicros); ++i) {
    if (LatencyHistogram::highest_in(i) + 1 != LatencyHistogram::lowest_in(i + 1)) {
      check(false, "buckets contiguous at " + std::to_string(i));
      break;
    }
  }
  for (std::uint64_t v : {0ULL, 1ULL, 127ULL, 128ULL, 129ULL, 255ULL, 256ULL, 1000ULL, 999'999ULL,
                          59'999'999ULL, 60'000'000ULL}) {
    const auto i = LatencyHistogram::index_of(v);
    check(LatencyHistogram::lowest_in(i) <= v && v <= LatencyHistogram::highest_in(i),
          "value " + std::to_string(v) + " inside its bucket");
    const auto width = LatencyHistogram::highest_in(i) - LatencyHistogram::lowest_in(i) + 1;
    check(v < 128 ? width == 1 : static_cast<double>(width) / static_cast<double>(v) <= 1.0 / 64,
          "relative error of " + std::to_string(v));
  }
  {
    LatencyHistogram h;
    for (std::uint64_t v = 1; v <= 100'000; ++v) h.record(v);  // 1 µs .. 100 ms, uniform
    auto near = [](std::uint64_t got, double want) {
      return std::abs(static_cast<double>(got) - want) <= want / 64 + 1;
    };
    check(h.count() == 100'000, "count");
    check(near(h.percentile(50), 50'000), "p50 " + std::to_string(h.percentile(50)));
    check(near(h.percentile(99), 99'000), "p99 " + std::to_string(h.percentile(99)));
    check(near(h.percentile(99.9), 99'900), "p99.9 " + std::to_string(h.percentile(99.9)));
    check(h.percentile(100) == 100'000 && h.max() == 100'000, "max");
    check(h.min() == 1, "min");
    LatencyHistogram other;
    other.record(120'000'000);  // beyond range: clamped in buckets, exact in max
    h.merge(other);
    check(h.count() == 100'001 && h.max() == 120'000'000, "merge and clamp");
    check(h.percentile(100) == 120'000'000 || h.percentile(100) >= 59'000'000, "p100 after clamp");
    LatencyHistogram empty;
    check(empty.percentile(99) == 0 && empty.max() == 0, "empty histogram");
  }

  check(days_from_civil(1970, 1, 1) == 0, "epoch");
  check(days_from_civil(2000, 3, 1) == 11017, "2000-03-01");
  const auto t = parse_rfc3339("2026-11-24T10:00:00.123Z");
  check(t && t->unix_us == 1795514400123000 && t->fraction_digits == 3, "ms timestamp");
  const auto u = parse_rfc3339("2026-11-24T11:00:00.123456+01:00");
  check(u && u->unix_us == 1795514400123456 && u->fraction_digits == 6, "offset, µs");
  const auto v = parse_rfc3339("2026-11-24T10:00:00Z");
  check(v && v->unix_us == 1795514400000000 && v->fraction_digits == 0, "no fraction");
  check(!parse_rfc3339("2026-11-24 10:00"), "too short");
  check(!parse_rfc3339("2026-11-24T10:00:00.Z"), "empty fraction");
  check(!parse_rfc3339("2026-11-24T10:00:00.123"), "no zone");
  check(!parse_rfc3339("2026-13-24T10:00:00.123Z"), "month 13");
  check(!parse_rfc3339("2026-11-24T10:00:00.123Zjunk"), "trailing text");
}

}  // namespace flashsale::bench
