// PlacementRates, the unit: placements per item and second by outcome, their p99 from
// log-spaced buckets, a bounded window, and a bounded number of items.
#include "api/placement_rates.hpp"

#include <catch2/catch.hpp>

using flashsale::api::PlacementRates;

TEST_CASE("each second counts its outcomes and the p99 of its latency, per item") {
  PlacementRates rates;
  const std::int64_t t = 1'800'000'000;
  // Second t: 98 fast ones (1 ms) and 2 slow ones (100 ms): the 99th of 100 is slow.
  for (int i = 0; i < 98; ++i) rates.record("a", "accepted", 0.001, t);
  rates.record("a", "sold_out", 0.1, t);
  rates.record("a", "sold_out", 0.1, t);
  // Second t + 2: one fast one; another item meanwhile.
  rates.record("a", "accepted", 0.001, t + 2);
  rates.record("b", "limit_exceeded", 0.002, t + 2);

  const auto a = rates.window("a", t + 2);
  CHECK(a["item_id"] == "a");
  CHECK(a["window_s"] == PlacementRates::kWindowSeconds);
  REQUIRE(a["seconds"].size() == 2);  // only seconds that had a placement
  const auto& first = a["seconds"][0];
  CHECK(first["at"] == t);
  CHECK(first["outcomes"] == nlohmann::json{{"accepted", 98}, {"sold_out", 2}});
  // The bucket's upper bound: within a factor 1.25 above the true value.
  CHECK(first["p99_ms"].get<double>() >= 100);
  CHECK(first["p99_ms"].get<double>() < 125);
  const auto& second = a["seconds"][1];
  CHECK(second["at"] == t + 2);
  CHECK(second["outcomes"] == nlohmann::json{{"accepted", 1}});
  CHECK(second["p99_ms"].get<double>() >= 1);
  CHECK(second["p99_ms"].get<double>() < 1.25);
  CHECK(rates.window("b", t + 2)["seconds"][0]["outcomes"] ==
        nlohmann::json{{"limit_exceeded", 1}});
  CHECK(rates.window("nobody-placed", t)["seconds"].empty());
}

TEST_CASE("the window ends kWindowSeconds back; an answer that comes late counts in its second") {
  PlacementRates rates;
  const std::int64_t t = 1'800'000'000;
  rates.record("a", "accepted", 0.001, t);
  rates.record("a", "accepted", 0.001, t + 10);
  rates.record("a", "accepted", 0.001, t + 9);  // another thread's answer, a moment behind
  auto seconds = rates.window("a", t + 10)["seconds"];
  REQUIRE(seconds.size() == 2);
  CHECK(seconds[1]["outcomes"]["accepted"] == 2);
  // Read later, the old seconds are gone even before anything new is recorded...
  seconds = rates.window("a", t + PlacementRates::kWindowSeconds + 5)["seconds"];
  REQUIRE(seconds.size() == 1);
  CHECK(seconds[0]["at"] == t + 10);
  // ...and recording drops them.
  rates.record("a", "accepted", 0.001, t + PlacementRates::kWindowSeconds + 20);
  seconds = rates.window("a", t + PlacementRates::kWindowSeconds + 20)["seconds"];
  REQUIRE(seconds.size() == 1);
  CHECK(seconds[0]["at"] == t + PlacementRates::kWindowSeconds + 20);
}

TEST_CASE("past kMaxItems items, the least recently placed one is forgotten") {
  PlacementRates rates;
  const std::int64_t t = 1'800'000'000;
  // Four items a second, all within the window; then only item-1 was last placed at t.
  const auto at = [&](std::size_t i) { return t + static_cast<std::int64_t>(i / 4); };
  const auto now = at(PlacementRates::kMaxItems);
  for (std::size_t i = 0; i < PlacementRates::kMaxItems; ++i) {
    rates.record("item-" + std::to_string(i), "accepted", 0.001, at(i));
  }
  for (const char* again : {"item-0", "item-2", "item-3"}) {
    rates.record(again, "accepted", 0.001, now);
  }
  rates.record("one-more", "accepted", 0.001, now);
  CHECK_FALSE(rates.window("one-more", now)["seconds"].empty());
  CHECK(rates.window("item-1", now)["seconds"].empty());
  CHECK_FALSE(rates.window("item-0", now)["seconds"].empty());
  CHECK_FALSE(rates.window("item-4", now)["seconds"].empty());
  // Extremes land in the first and the last bucket.
  rates.record("one-more", "accepted", 0, now + 1);
  CHECK(rates.window("one-more", now + 1)["seconds"][1]["p99_ms"] == 0.05);
  rates.record("item-4", "accepted", 1e6, now + 1);
  CHECK(rates.window("item-4", now + 1)["seconds"].back()["p99_ms"].get<double>() > 60'000);
}
