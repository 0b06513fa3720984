// See activity_rates.hpp.
#include "api/activity_rates.hpp"

#include <algorithm>
#include <flashsale/sdk/event_types.hpp>
#include <optional>

#include "api/validation.hpp"

namespace flashsale::api {

std::vector<std::string> ActivityRates::event_types() {
  return {std::string(sdk::event_type::kOrderWaiting), std::string(sdk::event_type::kOrderReserved),
          std::string(sdk::event_type::kOrderExpired)};
}

void ActivityRates::handle(const sdk::EventBatch& batch) {
  // The events of one transaction share their commit time: it is parsed once per transaction.
  const std::string* parsed = nullptr;
  std::optional<std::int64_t> us;
  std::lock_guard lock(mutex_);
  for (const sdk::Event& e : batch.events) {
    const bool reserved = e.type == sdk::event_type::kOrderReserved;
    const bool waiting = e.type == sdk::event_type::kOrderWaiting;
    if (!reserved && !waiting && e.type != sdk::event_type::kOrderExpired) continue;
    if (parsed == nullptr || *parsed != e.committed_at) {
      parsed = &e.committed_at;
      us = rfc3339_unix_us(e.committed_at);
    }
    if (!us) continue;
    const std::int64_t at = *us / 1'000'000;
    if (at <= latest_ - kWindowSeconds) continue;  // older than anything kept
    latest_ = std::max(latest_, at);
    Counts& c = seconds_[at][e.item_id];
    if (waiting) {
      ++c.joins;
    } else if (!reserved) {
      ++c.expiries;
    } else if (e.data.value("promoted", false)) {
      ++c.promotions;
    } else {
      ++c.joins;
      ++c.reservations;
    }
  }
  seconds_.erase(seconds_.begin(), seconds_.lower_bound(latest_ - kWindowSeconds + 1));
}

nlohmann::json ActivityRates::window(std::string_view item, std::int64_t now_unix_s) const {
  nlohmann::json seconds = nlohmann::json::array();
  {
    std::lock_guard lock(mutex_);
    for (auto it = seconds_.upper_bound(now_unix_s - kWindowSeconds); it != seconds_.end(); ++it) {
      if (it->first > now_unix_s) break;
      Counts sum;
      bool any = false;
      for (const auto& [item_id, c] : it->second) {
        if (!item.empty() && item_id != item) continue;
        any = true;
        sum.joins += c.joins;
        sum.reservations += c.reservations;
        sum.promotions += c.promotions;
        sum.expiries += c.expiries;
      }
      if (!any) continue;
      seconds.push_back({{"at", it->first},
                         {"joins", sum.joins},
                         {"reservations", sum.reservations},
                         {"promotions", sum.promotions},
                         {"expiries", sum.expiries}});
    }
  }
  return {{"item_id", item.empty() ? nlohmann::json() : nlohmann::json(item)},
          {"window_s", kWindowSeconds},
          {"now", now_unix_s},
          {"seconds", std::move(seconds)}};
}

}  // namespace flashsale::api
