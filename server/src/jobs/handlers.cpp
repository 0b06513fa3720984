// See handlers.hpp.
#include "jobs/handlers.hpp"

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <stdexcept>

#include "jobs/kinds.hpp"

namespace flashsale::jobs {
namespace {

using sdk::JobClock;
using sdk::JobOutcome;
using sdk::StorageError;

JobOutcome retry(const std::string& why,
                 std::chrono::milliseconds after = std::chrono::milliseconds(0)) {
  return {JobOutcome::Kind::retry, after, why};
}

JobOutcome done(const std::string& why = "") { return {JobOutcome::Kind::done, {}, why}; }

JobOutcome from_provider_error(const payments::ProviderError& e) {
  return {e.transient() ? JobOutcome::Kind::retry : JobOutcome::Kind::failed, {}, e.what()};
}

std::string field(const sdk::Job& job, const char* name) { return job.payload.value(name, ""); }

}  // namespace

void register_handlers(sdk::Scheduler& scheduler, sdk::Storage& storage,
                       const payments::Provider& provider, prometheus::Registry& metrics) {
  auto& lateness =
      prometheus::BuildHistogram()
          .Name("flashsale_lease_expiry_lateness_seconds")
          .Help("Time from a lease's expires_at to its unit being back, by the expiry job")
          .Register(metrics)
          .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                           2.5, 5, 10});

  scheduler.on(kind::kExpireLeases, [&storage, &lateness](const sdk::Job& job) {
    const auto r = storage.sweep_item(field(job, "item_id"));
    if (r.error == StorageError::not_found) return done(r.message);
    if (!r.ok()) return retry(r.message);
    // From the bucket's start: an upper bound of every swept lease's lateness.
    const JobClock::time_point start{
        std::chrono::milliseconds(job.payload.value("bucket_start_ms", std::int64_t{0}))};
    lateness.Observe(std::chrono::duration<double>(JobClock::now() - start).count());
    return done("swept");
  });

  // The provider is asked for each link (over kept-alive connections), then every link is
  // stored in one statement.
  scheduler.on_batch(
      kind::kMakePaymentLink, [&storage, &provider](const std::vector<sdk::Job>& jobs) {
        std::vector<JobOutcome> outcomes(jobs.size());
        std::vector<sdk::PaymentLink> links;
        std::vector<std::size_t> linked;  // the job of each link
        for (std::size_t i = 0; i < jobs.size(); ++i) {
          const auto order_id = field(jobs[i], "order_id");
          try {
            links.push_back({order_id, provider.create_link(order_id, field(jobs[i], "user_id"),
                                                            field(jobs[i], "item_id"))});
            linked.push_back(i);
          } catch (const payments::ProviderError& e) {
            outcomes[i] = from_provider_error(e);
          }
        }
        if (links.empty()) return outcomes;
        const auto stored = storage.set_payment_links(links);
        if (stored.size() != links.size()) {
          throw std::runtime_error("the storage answered " + std::to_string(stored.size()) +
                                   " results for " + std::to_string(links.size()) + " links");
        }
        for (std::size_t k = 0; k < linked.size(); ++k) {
          const auto& r = stored[k];
          auto& outcome = outcomes[linked[k]];
          if (r.ok() || r.error == StorageError::invalid_transition) {
            outcome = done(r.message);
          } else if (r.error == StorageError::not_found) {
            // The reservation's event can arrive a moment before its commit is visible here.
            outcome = retry(r.message, std::chrono::milliseconds(100));
          } else {
            outcome = retry(r.message);
          }
        }
        return outcomes;
      });

  scheduler.on(kind::kRefund, [&provider](const sdk::Job& job) {
    try {
      provider.refund(field(job, "order_id"), field(job, "event_id"));
      return done("refunded");
    } catch (const payments::ProviderError& e) {
      return from_provider_error(e);
    }
  });

  scheduler.on(kind::kCloseSale, [&storage](const sdk::Job& job) {
    const auto r = storage.sweep_item(field(job, "item_id"));
    if (r.error == StorageError::not_found) return done(r.message);
    if (!r.ok()) return retry(r.message);
    const auto item = nlohmann::json::parse(r.body);
    // The closing time moved: the job planned for the new time does the work.
    if (item.value("closes_at", nlohmann::json()) !=
        job.payload.value("closes_at", nlohmann::json())) {
      return done("closing time changed");
    }
    if (item.value("waiting", 0) > 0) {
      return retry("the database clock has not reached closes_at yet",
                   std::chrono::milliseconds(200));
    }
    return done("closed");
  });
}

}  // namespace flashsale::jobs
