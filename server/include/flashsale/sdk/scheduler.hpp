// Kind `scheduler`: durable delayed jobs (SPEC §5 "queues vs streams", §6) — commands that must
// happen at or after a time, or again after a failure: expire a lease, make a payment link,
// refund a late payment, close a sale.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flashsale/sdk/plugin.hpp"

namespace flashsale::sdk {
inline namespace v1 {

using JobClock = std::chrono::system_clock;

/// A job to enqueue.
struct NewJob {
  std::string kind;             ///< selects the handler, e.g. "expire_leases"
  nlohmann::json payload;       ///< the handler's input (a JSON object)
  JobClock::time_point run_at;  ///< not before this
  /// Enqueueing is idempotent per key: while a job with this key exists (any state), another
  /// with the same key is not added. Empty: no deduplication.
  std::string unique_key;
};

/// A job as its handler receives it.
struct Job {
  std::string id;
  std::string kind;
  nlohmann::json payload;
  int attempt = 1;              ///< 1 on the first run
  JobClock::time_point run_at;  ///< when it was due (lateness = start - run_at)
};

/// What a handler did.
struct JobOutcome {
  enum class Kind {
    done,    ///< finished (also when there was nothing left to do)
    retry,   ///< transient failure: run again later (backoff with jitter, at least retry_after)
    failed,  ///< permanent failure: dead-letter it now
  };
  Kind kind = Kind::done;
  std::chrono::milliseconds retry_after{0};
  std::string detail;  ///< human text, kept with the job
};

/// A durable queue with workers. Handlers run on the scheduler's threads and must tolerate
/// running twice (a worker that crashed mid-job leaves it to run again once its visibility
/// timeout passes). A handler that throws counts as `retry`. After the configured number of
/// attempts a job is dead-lettered, visible in the admin API and retryable from it.
class BOOST_SYMBOL_VISIBLE Scheduler : public Plugin {
 public:
  static constexpr const char* kKind = "scheduler";
  using Handler = std::function<JobOutcome(const Job&)>;
  /// Jobs of one kind claimed together, in due order; returns one outcome per job, in order.
  using BatchHandler = std::function<std::vector<JobOutcome>(const std::vector<Job>&)>;

  /// Registers the handler of `kind`. Call before start(); jobs of kinds nobody handles stay
  /// queued.
  virtual void on(const std::string& kind, Handler handler) = 0;
  /// Registers a handler of `kind` that takes the due jobs a worker claimed together (at most
  /// the scheduler's batch size), for work that costs less done as a set: one statement for
  /// many rows. An answer with another number of outcomes than jobs, or a throw, counts as
  /// `retry` for every job of the call. Call before start(); one handler per kind, of either
  /// form.
  virtual void on_batch(const std::string& kind, BatchHandler handler) = 0;

  /// Enqueues jobs in one transaction; returns how many were new (duplicates by unique_key are
  /// skipped). Wakes a sleeping worker when a job is due before its next wake-up. Thread-safe;
  /// may block briefly (a database round trip). Throws std::runtime_error if the database fails.
  virtual std::size_t enqueue(const std::vector<NewJob>& jobs) = 0;

  /// {"jobs": [{"id", "kind", "state", "payload", "attempts", "run_at", "last_error",
  /// "updated_at"}]} in `state` ("queued", "running", "done", "dead", or "all" for every
  /// state), newest first, at most `limit`. Blocking.
  virtual nlohmann::json list_jobs(const std::string& state, int limit) = 0;

  /// Moves a dead job back to the queue, due now, with its attempts reset; false if there is no
  /// dead job with this id. Blocking.
  virtual bool retry_job(const std::string& id) = 0;
};

}  // namespace v1
}  // namespace flashsale::sdk
