// Events per item and second over the last minutes: joins (orders placed: granted at once or
// queued), reservations (a free unit granted), promotions (a unit granted to the head of the
// line) and expiries, by the second they committed. Fed by the events this replica delivers
// (every event of the cluster when an event stream is configured), so the dashboard's activity
// chart can show the minutes before it connected (GET /admin/activity).
#pragma once

#include <cstdint>
#include <flashsale/sdk/events.hpp>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace flashsale::api {

class ActivityRates final : public sdk::EventConsumer {
 public:
  static constexpr std::int64_t kWindowSeconds = 300;

  /// The event types counted: what to subscribe this consumer to.
  [[nodiscard]] static std::vector<std::string> event_types();

  [[nodiscard]] std::string name() const override { return "activity_rates"; }
  void handle(const sdk::EventBatch& batch) override;

  /// {"item_id" (null: all items), "window_s", "now", "seconds": [{"at", "joins",
  /// "reservations", "promotions", "expiries"}]}: every second of the window ending at
  /// `now_unix_s` that had one of them, oldest first, for `item` or summed over all items when
  /// it is empty.
  [[nodiscard]] nlohmann::json window(std::string_view item, std::int64_t now_unix_s) const;

 private:
  struct Counts {
    int joins = 0;  // order.waiting, and order.reserved not promoted
    int reservations = 0;
    int promotions = 0;
    int expiries = 0;
  };
  mutable std::mutex mutex_;
  std::int64_t latest_ = 0;
  // By second, then by item: a second leaves the window with all its items at once, so memory
  // is bounded by the window and the items active in it.
  std::map<std::int64_t, std::unordered_map<std::string, Counts>> seconds_;
};

}  // namespace flashsale::api
