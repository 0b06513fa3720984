// See placement_rates.hpp.
#include "api/placement_rates.hpp"

#include <algorithm>
#include <cmath>

namespace flashsale::api {
namespace {

constexpr double kFirstBoundMs = 0.05;
constexpr double kFactor = 1.25;

double bound_ms(std::size_t bucket) {
  return kFirstBoundMs * std::pow(kFactor, static_cast<double>(bucket));
}

}  // namespace

void PlacementRates::record(const std::string& item, std::string_view outcome, double seconds,
                            std::int64_t unix_s) {
  const double ms = std::max(seconds * 1000.0, 0.0);
  std::size_t bucket = 0;
  if (ms > kFirstBoundMs) {
    bucket = static_cast<std::size_t>(std::ceil(std::log(ms / kFirstBoundMs) / std::log(kFactor)));
  }
  bucket = std::min(bucket, kBuckets - 1);

  std::lock_guard lock(mutex_);
  auto found = items_.find(item);
  if (found == items_.end()) {
    if (items_.size() >= kMaxItems) {
      items_.erase(std::min_element(items_.begin(), items_.end(), [](const auto& a, const auto& b) {
        return a.second.back().at < b.second.back().at;
      }));
    }
    found = items_.emplace(item, std::deque<Second>{}).first;
  }
  auto& kept = found->second;
  // Answers come back out of order across threads, by a few milliseconds: a late one counts in
  // the latest second.
  if (kept.empty() || kept.back().at < unix_s) {
    kept.emplace_back();
    kept.back().at = unix_s;
  }
  Second& second = kept.back();
  auto counted = second.outcomes.find(outcome);
  if (counted == second.outcomes.end()) {
    counted = second.outcomes.emplace(std::string(outcome), 0).first;
  }
  ++counted->second;
  ++second.latency[bucket];
  // (The latest second stays: it is at least unix_s.)
  while (kept.front().at <= unix_s - kWindowSeconds) kept.pop_front();
}

nlohmann::json PlacementRates::window(const std::string& item, std::int64_t now_unix_s) const {
  nlohmann::json seconds = nlohmann::json::array();
  {
    std::lock_guard lock(mutex_);
    if (const auto found = items_.find(item); found != items_.end()) {
      for (const Second& s : found->second) {
        if (s.at <= now_unix_s - kWindowSeconds) continue;
        std::uint64_t total = 0;
        for (const auto n : s.latency) total += n;
        // The smallest bucket with at least 99 % of the placements at or below it.
        const auto wanted =
            static_cast<std::uint64_t>(std::ceil(static_cast<double>(total) * 0.99));
        std::uint64_t below = 0;
        std::size_t bucket = 0;
        for (; bucket < kBuckets; ++bucket) {
          below += s.latency[bucket];
          if (below >= wanted) break;
        }
        seconds.push_back({{"at", s.at},
                           {"outcomes", s.outcomes},
                           {"p99_ms", std::round(bound_ms(bucket) * 1000.0) / 1000.0}});
      }
    }
  }
  return {{"item_id", item}, {"window_s", kWindowSeconds}, {"seconds", std::move(seconds)}};
}

}  // namespace flashsale::api
