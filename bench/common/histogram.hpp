// A fixed-size log-linear latency histogram in the spirit of HdrHistogram: 1 µs resolution
// below 128 µs, then 64 linear sub-buckets per power of two (relative error < 1/64, about two
// significant digits) up to 60 s. Not thread-safe: keep one per connection and merge.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flashsale::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr std::uint64_t kSubCount = std::uint64_t{1} << kSubBits;  // 128
  static constexpr std::uint64_t kHalfCount = kSubCount / 2;                // 64
  static constexpr std::uint64_t kMaxMicros = 60'000'000;                   // 60 s

  LatencyHistogram() : counts_(index_of(kMaxMicros) + 1, 0) {}

  /// Records one value in microseconds; values above 60 s count as 60 s (the exact maximum
  /// is still tracked).
  void record(std::uint64_t micros) {
    max_ = std::max(max_, micros);
    min_ = std::min(min_, micros);
    sum_ += micros;
    ++counts_[index_of(std::min(micros, kMaxMicros))];
    ++total_;
  }

  void merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    sum_ += other.sum_;
    max_ = std::max(max_, other.max_);
    min_ = std::min(min_, other.min_);
  }

  [[nodiscard]] std::uint64_t count() const { return total_; }
  [[nodiscard]] std::uint64_t max() const { return total_ == 0 ? 0 : max_; }
  [[nodiscard]] std::uint64_t min() const { return total_ == 0 ? 0 : min_; }
  [[nodiscard]] double mean() const {
    return total_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(total_);
  }

  /// The smallest recorded bucket's highest value such that at least `percent` % of the
  /// values are at or below it (HdrHistogram's convention), never above the true maximum.
  [[nodiscard]] std::uint64_t percentile(double percent) const {
    if (total_ == 0) return 0;
    percent = std::clamp(percent, 0.0, 100.0);
    auto wanted =
        static_cast<std::uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(total_)));
    wanted = std::max<std::uint64_t>(wanted, 1);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= wanted) return std::min(highest_in(i), max_);
    }
    return max_;
  }

  static constexpr std::size_t index_of(std::uint64_t v) {
    if (v < kSubCount) return static_cast<std::size_t>(v);
    const int shift = static_cast<int>(std::bit_width(v)) - kSubBits;  // >= 1
    const std::uint64_t top = v >> shift;                              // in [64, 128)
    return static_cast<std::size_t>(
        kSubCount + (static_cast<std::uint64_t>(shift) - 1) * kHalfCount + (top - kHalfCount));
  }

  static constexpr std::uint64_t lowest_in(std::size_t index) {
    if (index < kSubCount) return index;
    const std::uint64_t k = index - kSubCount;
    const std::uint64_t shift = k / kHalfCount + 1;
    const std::uint64_t top = k % kHalfCount + kHalfCount;
    return top << shift;
  }

  static constexpr std::uint64_t highest_in(std::size_t index) {
    if (index < kSubCount) return index;
    const std::uint64_t k = index - kSubCount;
    const std::uint64_t shift = k / kHalfCount + 1;
    const std::uint64_t top = k % kHalfCount + kHalfCount;
    return ((top + 1) << shift) - 1;
  }

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
};

/// The latencies of a run's current one-second interval (for progress lines), and the worst
/// p99 of a second so far, which counts seconds without warm-up values only.
class PerSecond {
 public:
  struct Interval {
    std::uint64_t count, p50_us, p99_us, max_us;
    bool warmup;
  };

  void record(std::uint64_t micros, bool warmup) {
    current_.record(micros);
    has_warmup_ = has_warmup_ || warmup;
  }

  /// Ends the current interval: its figures, then a fresh one.
  Interval roll() {
    Interval i{current_.count(), current_.percentile(50), current_.percentile(99), current_.max(),
               has_warmup_};
    if (i.count > 0 && !i.warmup) worst_p99_us_ = std::max(worst_p99_us_, i.p99_us);
    current_ = LatencyHistogram();
    has_warmup_ = false;
    return i;
  }

  [[nodiscard]] std::uint64_t worst_p99_us() const { return worst_p99_us_; }

 private:
  LatencyHistogram current_;
  bool has_warmup_ = false;
  std::uint64_t worst_p99_us_ = 0;
};

}  // namespace flashsale::bench
