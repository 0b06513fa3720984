// The job planner (SPEC §9, the slow path): an event consumer that turns facts into commands,
// durable jobs with unique keys, so a replayed event plans nothing twice: a sweep of an item's
// leases when they lapse, a payment link for each reservation, the closing of a sale.
#pragma once

#include <flashsale/sdk/events.hpp>
#include <flashsale/sdk/scheduler.hpp>
#include <string>
#include <vector>

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

/// The job that gives back the money of payment `payment_event_id`, which came too late.
sdk::NewJob refund_job(const std::string& order_id, const std::string& payment_event_id);

}  // namespace flashsale::jobs
