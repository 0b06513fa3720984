// See slow_path.hpp.
#include "jobs/slow_path.hpp"

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <ctime>

#include "log.hpp"

namespace flashsale::jobs {
namespace {

using sdk::JobClock;
using sdk::JobOutcome;

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

const std::vector<std::string>& planned_event_types() {
  static const std::vector<std::string> types = {"order.reserved", "item.created",
                                                 "inventory.changed"};
  return types;
}

void Planner::handle(const sdk::EventBatch& batch) {
  std::vector<sdk::NewJob> jobs;
  for (const auto& e : batch.events) {
    if (e.type == "order.reserved") {
      const auto expires = parse_time(e.data.value("reservation", nlohmann::json::object())
                                          .value("expires_at", nlohmann::json()));
      if (expires) {
        // One sweep per item per bucket: every lease of the item lapsing in the bucket comes
        // back in one transaction. Due at the bucket's end, so never before a lease's expiry.
        const auto since_epoch =
            std::chrono::duration_cast<std::chrono::milliseconds>(expires->time_since_epoch());
        const auto bucket_end = (since_epoch / kExpiryBucket + 1) * kExpiryBucket;
        jobs.push_back(
            {"expire_leases",
             {{"item_id", e.item_id}, {"bucket_start_ms", (bucket_end - kExpiryBucket).count()}},
             JobClock::time_point(bucket_end),
             "expire_leases:" + e.item_id + ":" + std::to_string(bucket_end.count())});
      }
      jobs.push_back({"make_payment_link",
                      {{"order_id", e.order_id}, {"user_id", e.user_id}, {"item_id", e.item_id}},
                      JobClock::now(),
                      "payment_link:" + e.order_id});
    } else if (const auto closes = parse_time(e.data.value("closes_at", nlohmann::json()))) {
      const std::string at = e.data["closes_at"];
      jobs.push_back({"close_sale",
                      {{"item_id", e.item_id}, {"closes_at", at}},
                      *closes,
                      "close_sale:" + e.item_id + ":" + at});
    }
  }
  if (!jobs.empty()) scheduler_.enqueue(jobs);  // throws on failure: the bus tries again
}

sdk::NewJob refund_job(const std::string& order_id, const std::string& payment_event_id) {
  return {"refund",
          {{"order_id", order_id}, {"event_id", payment_event_id}},
          JobClock::now(),
          "refund:" + payment_event_id};
}

void register_handlers(sdk::Scheduler& scheduler, sdk::Storage& storage,
                       const payments::Provider& provider, prometheus::Registry& metrics) {
  auto& lateness =
      prometheus::BuildHistogram()
          .Name("flashsale_lease_expiry_lateness_seconds")
          .Help("Time from a lease's expires_at to its unit being back, by the expiry job")
          .Register(metrics)
          .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                           2.5, 5, 10});

  scheduler.on("expire_leases", [&storage, &lateness](const sdk::Job& job) {
    const auto r = storage.sweep_item(field(job, "item_id"));
    if (r.error == "not_found") return done(r.message);
    if (!r.error.empty()) return retry(r.message);
    // From the bucket's start: an upper bound of every swept lease's lateness.
    const JobClock::time_point start{
        std::chrono::milliseconds(job.payload.value("bucket_start_ms", std::int64_t{0}))};
    lateness.Observe(std::chrono::duration<double>(JobClock::now() - start).count());
    return done("swept");
  });

  scheduler.on("make_payment_link", [&storage, &provider](const sdk::Job& job) {
    std::string link;
    try {
      link = provider.create_link(field(job, "order_id"), field(job, "user_id"),
                                  field(job, "item_id"));
    } catch (const payments::ProviderError& e) {
      return from_provider_error(e);
    }
    const auto r = storage.set_payment_link(field(job, "order_id"), link);
    if (r.error.empty() || r.error == "invalid_transition") return done(r.message);
    // The reservation's event can arrive a moment before its commit is visible here.
    if (r.error == "not_found") return retry(r.message, std::chrono::milliseconds(100));
    return retry(r.message);
  });

  scheduler.on("refund", [&provider](const sdk::Job& job) {
    try {
      provider.refund(field(job, "order_id"), field(job, "event_id"));
      return done("refunded");
    } catch (const payments::ProviderError& e) {
      return from_provider_error(e);
    }
  });

  scheduler.on("close_sale", [&storage](const sdk::Job& job) {
    const auto r = storage.sweep_item(field(job, "item_id"));
    if (r.error == "not_found") return done(r.message);
    if (!r.error.empty()) return retry(r.message);
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
