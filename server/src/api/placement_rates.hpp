// Placements per item and second over the last minutes, by outcome, with their latency: what
// the dashboard charts for the selected item (GET /admin/items/{item}/placements), which the
// event stream cannot tell (refusals are not events) and /metrics does not split by item. This
// replica's own requests only.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>

namespace flashsale::api {

class PlacementRates {
 public:
  static constexpr std::int64_t kWindowSeconds = 300;
  static constexpr std::size_t kMaxItems = 1000;  // past this, the least recently placed goes

  /// One answered placement for `item`: "accepted" or the error code, after `seconds`, at
  /// `unix_s` (seconds since 1970).
  void record(const std::string& item, std::string_view outcome, double seconds,
              std::int64_t unix_s);

  /// {"item_id", "window_s", "seconds": [{"at", "outcomes": {outcome: n}, "p99_ms"}]}: every
  /// second of the window ending at `now_unix_s` that had a placement, oldest first. p99_ms is
  /// the upper bound of the latency bucket (a factor 1.25 wide) that holds the 99th percentile.
  [[nodiscard]] nlohmann::json window(const std::string& item, std::int64_t now_unix_s) const;

 private:
  static constexpr std::size_t kBuckets = 64;  // 0.05 ms * 1.25^i: up to about 70 s

  struct Second {
    std::int64_t at = 0;
    std::map<std::string, int, std::less<>> outcomes;
    std::array<std::uint32_t, kBuckets> latency{};
  };
  mutable std::mutex mutex_;
  // Per item, oldest first, only seconds with placements (never empty: the last is the latest
  // placement's).
  std::unordered_map<std::string, std::deque<Second>> items_;
};

}  // namespace flashsale::api
