// See planner.hpp.
#include "jobs/planner.hpp"

#include <cstdio>
#include <ctime>
#include <flashsale/sdk/event_types.hpp>
#include <unordered_set>

#include "jobs/kinds.hpp"

namespace flashsale::jobs {
namespace {

using sdk::JobClock;
namespace event_type = sdk::event_type;

// Leases of one item lapsing within this span are expired together.
constexpr std::chrono::milliseconds kExpiryBucket{100};

// "2026-11-24T10:00:00.123Z" -> a time point; nullopt for anything else.
std::optional<JobClock::time_point> parse_time(const nlohmann::json& value) {
  if (!value.is_string()) return std::nullopt;
  const std::string text = value.get<std::string>();
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return JobClock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(millis);
}

}  // namespace

const std::vector<std::string>& planned_event_types() {
  static const std::vector<std::string> types = {std::string(event_type::kOrderReserved),
                                                 std::string(event_type::kItemCreated),
                                                 std::string(event_type::kInventoryChanged)};
  return types;
}

void Planner::handle(const sdk::EventBatch& batch) {
  std::vector<sdk::NewJob> jobs;
  std::unordered_set<std::string> sweeps;  // the sweeps' keys planned by this call
  for (const auto& e : batch.events) {
    if (e.type == event_type::kOrderReserved) {
      const auto expires = parse_time(e.data.value("reservation", nlohmann::json::object())
                                          .value("expires_at", nlohmann::json()));
      if (expires) {
        // One sweep per item per bucket: every lease of the item lapsing in the bucket comes
        // back in one transaction. Due at the bucket's end, so never before a lease's expiry.
        // The reservations of a hot item share a few buckets: each key goes to the queue once.
        const auto since_epoch =
            std::chrono::duration_cast<std::chrono::milliseconds>(expires->time_since_epoch());
        const auto bucket_end = (since_epoch / kExpiryBucket + 1) * kExpiryBucket;
        auto key = "expire_leases:" + e.item_id + ":" + std::to_string(bucket_end.count());
        if (sweeps.insert(key).second) {
          jobs.push_back(
              {kind::kExpireLeases,
               {{"item_id", e.item_id}, {"bucket_start_ms", (bucket_end - kExpiryBucket).count()}},
               JobClock::time_point(bucket_end),
               std::move(key)});
        }
      }
      jobs.push_back({kind::kMakePaymentLink,
                      {{"order_id", e.order_id}, {"user_id", e.user_id}, {"item_id", e.item_id}},
                      JobClock::now(),
                      "payment_link:" + e.order_id});
    } else if (const auto closes = parse_time(e.data.value("closes_at", nlohmann::json()))) {
      const std::string at = e.data["closes_at"];
      jobs.push_back({kind::kCloseSale,
                      {{"item_id", e.item_id}, {"closes_at", at}},
                      *closes,
                      "close_sale:" + e.item_id + ":" + at});
    }
  }
  if (!jobs.empty()) scheduler_.enqueue(jobs);  // throws on failure: the bus tries again
}

sdk::NewJob refund_job(const std::string& order_id, const std::string& payment_event_id) {
  return {kind::kRefund,
          {{"order_id", order_id}, {"event_id", payment_event_id}},
          JobClock::now(),
          "refund:" + payment_event_id};
}

}  // namespace flashsale::jobs
