// See settlement.hpp.
#include "payments/settlement.hpp"

#include "jobs/planner.hpp"

namespace flashsale::payments {

sdk::StorageResult settle(sdk::Storage& storage, sdk::Scheduler* scheduler,
                          const std::string& event_id, const std::string& order_id,
                          bool succeeded) {
  auto r = storage.record_payment(event_id, order_id, succeeded);
  const bool recorded = r.ok() || r.error == sdk::StorageError::duplicate;
  if (recorded && scheduler &&
      nlohmann::json::parse(r.body).value("result", "") == "refund_required") {
    scheduler->enqueue({jobs::refund_job(order_id, event_id)});
  }
  return r;
}

}  // namespace flashsale::payments
