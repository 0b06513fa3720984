// The slow path (SPEC §9): what follows a state change, as durable jobs. The planner turns
// events into jobs (sweep an item's lapsed leases when they expire, make a payment link, close a
// sale at its closing time); the handlers carry them out through the storage plugin and the
// payment provider. Every handler tolerates running twice.
#pragma once

#include <flashsale/sdk/events.hpp>
#include <flashsale/sdk/scheduler.hpp>
#include <flashsale/sdk/storage.hpp>

#include "payments/provider.hpp"

namespace prometheus {
class Registry;
}

namespace flashsale::jobs {

/// The event types the planner needs.
const std::vector<std::string>& planned_event_types();

/// Enqueues the jobs that events call for; a transaction's jobs go in one round trip.
class Planner final : public sdk::EventConsumer {
 public:
  explicit Planner(sdk::Scheduler& scheduler) : scheduler_(scheduler) {}
  [[nodiscard]] std::string name() const override { return "job_planner"; }
  void handle(const sdk::EventBatch& batch) override;

 private:
  sdk::Scheduler& scheduler_;
};

/// Registers the handlers of expire_leases, make_payment_link, refund and close_sale.
void register_handlers(sdk::Scheduler& scheduler, sdk::Storage& storage,
                       const payments::Provider& provider, prometheus::Registry& metrics);

/// The job that gives back the money of a payment that came too late.
sdk::NewJob refund_job(const std::string& order_id, const std::string& payment_event_id);

}  // namespace flashsale::jobs
