// ActivityRates, the unit: events counted per item and commit second (joins, reservations,
// promotions, expiries), summed over items on request, within a bounded window.
#include "api/activity_rates.hpp"

#include <catch2/catch.hpp>
#include <flashsale/sdk/events.hpp>

using flashsale::api::ActivityRates;
namespace sdk = flashsale::sdk;

namespace {

constexpr std::int64_t kT = 1'800'000'000;  // a whole second

sdk::Event event(const std::string& type, const std::string& item, std::int64_t unix_s,
                 bool promoted = false) {
  sdk::Event e;
  e.type = type;
  e.item_id = item;
  e.committed_at = sdk::rfc3339(unix_s * 1'000'000 + 999'000);
  if (type == "order.reserved") e.data = {{"promoted", promoted}};
  return e;
}

sdk::EventBatch batch(std::vector<sdk::Event> events) {
  sdk::EventBatch b;
  b.events = std::move(events);
  return b;
}

nlohmann::json second(std::int64_t at, int joins, int reservations, int promotions, int expiries) {
  return {{"at", at},
          {"joins", joins},
          {"reservations", reservations},
          {"promotions", promotions},
          {"expiries", expiries}};
}

}  // namespace

TEST_CASE("each commit second counts joins, reservations, promotions and expiries, per item") {
  ActivityRates rates;
  rates.handle(batch({event("order.reserved", "a", kT), event("order.reserved", "a", kT),
                      event("order.waiting", "a", kT), event("order.expired", "a", kT),
                      event("inventory.changed", "a", kT), event("order.reserved", "b", kT)}));
  rates.handle(batch({event("order.reserved", "a", kT + 2, true)}));

  const auto a = rates.window("a", kT + 2);
  CHECK(a["item_id"] == "a");
  CHECK(a["window_s"] == ActivityRates::kWindowSeconds);
  CHECK(a["now"] == kT + 2);
  // Only seconds with something in them; the two reservations and the waiting order join.
  CHECK(a["seconds"] == nlohmann::json{second(kT, 3, 2, 0, 1), second(kT + 2, 0, 0, 1, 0)});
  CHECK(rates.window("b", kT + 2)["seconds"] == nlohmann::json{second(kT, 1, 1, 0, 0)});
  // No item: every item's, summed.
  const auto all = rates.window("", kT + 2);
  CHECK(all["item_id"].is_null());
  CHECK(all["seconds"] == nlohmann::json{second(kT, 4, 3, 0, 1), second(kT + 2, 0, 0, 1, 0)});
  CHECK(rates.window("nothing-here", kT + 2)["seconds"].empty());
  // A second after `now` is not shown yet.
  CHECK(rates.window("a", kT + 1)["seconds"] == nlohmann::json{second(kT, 3, 2, 0, 1)});
}

TEST_CASE("seconds older than the window are dropped, and a late event for one is ignored") {
  ActivityRates rates;
  rates.handle(batch({event("order.waiting", "a", kT)}));
  rates.handle(batch({event("order.waiting", "a", kT + ActivityRates::kWindowSeconds - 1)}));
  CHECK(rates.window("a", kT + ActivityRates::kWindowSeconds - 1)["seconds"].size() == 2);
  // The window ending at kT + kWindowSeconds no longer holds kT.
  CHECK(rates.window("a", kT + ActivityRates::kWindowSeconds)["seconds"].size() == 1);
  rates.handle(batch({event("order.waiting", "a", kT + ActivityRates::kWindowSeconds)}));
  rates.handle(batch({event("order.waiting", "a", kT)}));  // too late: not counted
  const auto shown = rates.window("a", kT + ActivityRates::kWindowSeconds)["seconds"];
  REQUIRE(shown.size() == 2);
  CHECK(shown[0]["at"] == kT + ActivityRates::kWindowSeconds - 1);
}
