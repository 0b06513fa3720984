// scheduler/pg_queue: durable delayed jobs in PostgreSQL (the `jobs` table of
// migrations/0003_jobs.sql; every statement is in queries.hpp).
//
// Workers claim due jobs in small batches (FOR UPDATE SKIP LOCKED through the run_at index), run
// the handlers in order outside any transaction, then record every outcome of the batch in one
// statement. A worker with nothing due sleeps until the next due run_at, or until enqueue() adds
// an earlier job (an in-process wake-up: no NOTIFY, which would take a database-wide lock at
// each enqueue's commit), but never longer than poll_interval_ms, so jobs enqueued by other
// instances are seen. Each worker session holds a claimer lock (queries.hpp) that PostgreSQL
// releases when the session ends, so a maintenance thread, in any live instance, requeues the
// jobs of a killed worker within a poll interval; it also extends the visibility timeout of its
// own workers' jobs while they run, requeues jobs whose timeout passed all the same (a hung or
// cut-off process), deletes old done jobs in bounded batches and refreshes the per-kind gauges
// (queued, due, the oldest due job's age, dead).
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <flashsale/pg/connection.hpp>
#include <flashsale/pg/migrations.hpp>
#include <flashsale/pg/pool.hpp>
#include <flashsale/sdk/scheduler.hpp>
#include <flashsale/sdk/threads.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "queries.hpp"
#include "settings.hpp"

namespace flashsale::plugins::pg_queue {
namespace {

using Clock = std::chrono::steady_clock;
using sdk::JobClock;
using std::chrono::milliseconds;

constexpr std::size_t kApiConnections = 4;           // enqueue, list, retry, health
constexpr milliseconds kAcquireTimeout{5000};        // waiting for a free API connection
constexpr int kStatementTimeoutMs = 10000;           // no statement of ours takes near this
constexpr milliseconds kBatchBudget{50};             // aim: a claimed batch runs within this
constexpr milliseconds kContendedPause{5};           // due jobs exist but others hold them
constexpr milliseconds kClaimFromHead{1000};         // at least this often a claim starts afresh
constexpr milliseconds kHousekeepingInterval{1000};  // cleanup and per-kind gauges
constexpr int kGaugeTimeShare = 20;            // the gauges' counts take at most 1/20 of the time
constexpr int kCleanupBatch = 1000;            // rows per DELETE
constexpr int kCleanupBatchesPerPass = 10;     // DELETEs per housekeeping pass
constexpr int kRescueBatch = 1000;             // lost jobs requeued per pass
constexpr int kMaxGaugeKinds = 100;            // bound on a per-kind gauge's label set
constexpr std::size_t kMaxErrorLength = 2000;  // last_error is for humans

std::string truncated(std::string text) {
  if (text.size() > kMaxErrorLength) text.resize(kMaxErrorLength);
  return text;
}

// Sets up a connection and prepares every statement on it.
void prepare(pg::Connection& conn, bool worker) {
  conn.exec("SET statement_timeout = " + std::to_string(kStatementTimeoutMs));
  // A worker's claims and outcomes may be lost in a database crash without harm: a lost claim
  // leaves the job queued, a lost outcome leaves it running until its visibility timeout, and
  // either way it runs again (handlers are idempotent). Not waiting for the WAL flush at each
  // commit takes milliseconds off every batch. Enqueues stay synchronous: callers rely on them.
  if (worker) conn.exec("SET synchronous_commit = off");
  for (const auto& s : kStatements) conn.prepare(std::string(s.name), std::string(s.sql));
}

struct Claimed {
  long long id = 0;
  long long run_at_us = 0;  // as the database has it, for the worker's ClaimCursor
  sdk::Job job;
  // The later of run_at and the enqueue: lateness counts from here, so a job enqueued with a
  // run_at in the past (a sale closed by a closes_at years ago) is not years late.
  JobClock::time_point due_since;
};

// Where a worker's next claim starts in jobs_due, per kind (the order of the claim's kinds):
// after the last job it claimed of that kind, so it does not walk again what its earlier claims
// left behind. Jobs that become due behind that point (a job put back unstarted, rescued from a
// lost worker, or enqueued with a run_at in the past) wait for the next claim from the head:
// after kClaimFromHead, or at once when a claim finds nothing.
class ClaimCursor {
 public:
  explicit ClaimCursor(std::size_t kinds) : after_(kinds) {}

  // The claim's $4 and $5 (NULLs: from the head).
  std::pair<std::string, std::string> params(Clock::time_point now) {
    if (now >= head_at_) {
      std::fill(after_.begin(), after_.end(), std::nullopt);
      head_at_ = now + kClaimFromHead;
    }
    std::string us = "{", ids = "{";
    for (const auto& a : after_) {
      if (us.size() > 1) {
        us += ',';
        ids += ',';
      }
      us += a ? std::to_string(a->first) : "NULL";
      ids += a ? std::to_string(a->second) : "NULL";
    }
    return {us + "}", ids + "}"};
  }

  // A claim got `claimed`, of kind number `kind`.
  void advance(std::size_t kind, const Claimed& claimed) {
    const std::pair at{claimed.run_at_us, claimed.id};
    if (!after_[kind] || *after_[kind] < at) after_[kind] = at;
  }
  // A claim got nothing: the next starts from the head.
  void restart() { head_at_ = Clock::time_point::min(); }

 private:
  std::vector<std::optional<std::pair<long long, long long>>> after_;
  Clock::time_point head_at_ = Clock::time_point::min();
};

}  // namespace

class PgQueueScheduler final : public sdk::Scheduler {
 public:
  explicit PgQueueScheduler(sdk::HostContext& host)
      : host_(host),
        settings_(parse_settings(host)),
        url_(pg::with_keepalives(host.database_url())),
        jobs_total_(prometheus::BuildCounter()
                        .Name("flashsale_jobs_total")
                        .Help("Job attempts finished, by kind and outcome (done, retry, dead)")
                        .Register(host.metrics())),
        depth_{prometheus::BuildGauge()
                   .Name("flashsale_job_queue_depth")
                   .Help("Queued jobs (due or not), by kind")
                   .Register(host.metrics())},
        due_{prometheus::BuildGauge()
                 .Name("flashsale_job_queue_due")
                 .Help("Queued jobs whose run_at has come, by kind")
                 .Register(host.metrics())},
        oldest_due_{prometheus::BuildGauge()
                        .Name("flashsale_job_oldest_due_age_seconds")
                        .Help("Now minus the later of run_at and enqueue time of the oldest due "
                              "queued job (0 when none is due), by kind")
                        .Register(host.metrics())},
        dead_{prometheus::BuildGauge()
                  .Name("flashsale_job_dead")
                  .Help("Dead jobs (failed for good, kept until retried), by kind")
                  .Register(host.metrics())},
        lateness_(prometheus::BuildHistogram()
                      .Name("flashsale_job_lateness_seconds")
                      .Help("From the later of a job's run_at and its enqueue to the start of its "
                            "handler, by kind")
                      .Register(host.metrics())),
        pool_(url_, kApiConnections, [](pg::Connection& c) { prepare(c, false); }) {}

  ~PgQueueScheduler() override { stop(); }
  PgQueueScheduler(const PgQueueScheduler&) = delete;
  PgQueueScheduler& operator=(const PgQueueScheduler&) = delete;

  void on(const std::string& kind, Handler handler) override {
    add_handler(kind, {std::move(handler), nullptr});
  }

  void on_batch(const std::string& kind, BatchHandler handler) override {
    add_handler(kind, {nullptr, std::move(handler)});
  }

  void migrate() override {
    pg::migrate(host_.database_url(), pg::embedded::schema(),
                [this](const std::string& line) { host_.log(sdk::LogLevel::info, line); });
  }

  void start() override {
    if (started_.exchange(true)) return;
    for (const auto& [kind, handler] : handlers_) {
      kinds_.push_back(kind);
      for (const char* outcome : {"done", "retry", "dead"}) counter(kind, outcome);
      for (auto* gauges : {&depth_, &due_, &oldest_due_, &dead_}) gauge(*gauges, kind);
      lateness_by_kind_[kind] = &lateness_.Add(
          {{"kind", kind}},
          prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                  1, 2.5, 5, 10, 30, 60, 300});
    }
    kinds_param_ = pg::text_array(kinds_);
    const std::size_t workers = handlers_.empty() ? 0 : static_cast<std::size_t>(settings_.threads);
    {
      std::lock_guard lock(wake_mutex_);  // enqueue() may already be waking workers
      slots_.resize(workers);
    }
    claimers_.resize(workers);
    for (std::size_t w = 0; w < workers; ++w) {
      threads_.emplace_back([this, w] { worker_loop(w); });
    }
    threads_.emplace_back([this] { maintenance_loop(); });
    std::string kinds;
    for (const auto& k : kinds_) kinds += (kinds.empty() ? "" : ", ") + k;
    host_.log(sdk::LogLevel::info,
              "started " + std::to_string(workers) +
                  " workers for job kinds: " + (kinds.empty() ? "(none)" : kinds));
  }

  void stop() override {
    {
      std::lock_guard lock(wake_mutex_);
      stopping_ = true;
    }
    wake_cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }

  sdk::Health health() override {
    try {
      auto conn = pool_.acquire(kAcquireTimeout);
      conn->exec("SELECT 1");
      return {true, "database reachable"};
    } catch (const std::exception& e) {
      return {false, e.what()};
    }
  }

  std::size_t enqueue(const std::vector<sdk::NewJob>& jobs) override {
    if (jobs.empty()) return 0;
    nlohmann::json rows = nlohmann::json::array();
    auto earliest = JobClock::time_point::max();
    for (const auto& job : jobs) {
      if (job.kind.empty()) throw std::invalid_argument("pg_queue: a job needs a kind");
      // Rounded up: a job never runs before the time it asked for.
      const auto run_at_us =
          std::chrono::ceil<std::chrono::microseconds>(job.run_at.time_since_epoch()).count();
      rows.push_back({{"kind", job.kind},
                      {"payload", job.payload.is_null() ? nlohmann::json::object() : job.payload},
                      {"run_at_us", run_at_us},
                      {"unique_key", job.unique_key}});
      earliest = std::min(earliest, job.run_at);
    }
    const std::string param = rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::size_t added = 0;
    {
      auto conn = pool_.acquire(kAcquireTimeout);
      added =
          static_cast<std::size_t>(conn->exec_prepared(std::string(kEnqueue.name), {param}).rows());
    }
    if (added > 0) wake_before(earliest);
    return added;
  }

  nlohmann::json list_jobs(const std::string& state, int limit) override {
    const auto statement = std::find_if(kList.begin(), kList.end(), [&](const Statement& s) {
      return s.name.substr(s.name.find('_') + 1) == state;
    });
    if (statement == kList.end()) {
      throw std::invalid_argument("pg_queue: no job state '" + state + "'");
    }
    auto conn = pool_.acquire(kAcquireTimeout);
    const auto r = conn->exec_prepared(std::string(statement->name),
                                       {std::to_string(std::clamp(limit, 1, 1000))});
    return nlohmann::json::parse(r.get(0, 0));
  }

  bool retry_job(const std::string& id) override {
    const bool numeric =
        !id.empty() && id.size() <= 18 &&
        std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!numeric) return false;
    bool found = false;
    {
      auto conn = pool_.acquire(kAcquireTimeout);
      found = conn->exec_prepared(std::string(kRetry.name), {id}).rows() == 1;
    }
    if (found) wake_before(JobClock::now());
    return found;
  }

 private:
  // A kind's handler: one of the two.
  struct KindHandler {
    Handler single;
    BatchHandler batch;
  };

  void add_handler(const std::string& kind, KindHandler handler) {
    if (started_) throw std::logic_error("pg_queue: a handler of \"" + kind + "\" after start()");
    if (kind.empty() || (!handler.single && !handler.batch)) {
      throw std::invalid_argument("pg_queue: a handler needs a kind and a function");
    }
    if (!handlers_.emplace(kind, std::move(handler)).second) {
      throw std::logic_error("pg_queue: \"" + kind + "\" has a handler already");
    }
  }

  // --- Wake-ups --------------------------------------------------------------------------------
  // Each worker publishes when it will next look at the queue: `deadline` is min() while it is
  // busy (it claims again as soon as it is done), max() while it is reading the next due time
  // (so a job enqueued meanwhile always wakes it), and the end of its sleep while it sleeps.
  struct Slot {
    Clock::time_point deadline = Clock::time_point::min();
    bool woken = false;
  };

  // Wakes every worker that would otherwise look at the queue only after `due`.
  void wake_before(JobClock::time_point due) {
    const auto now = JobClock::now();
    // No worker sleeps longer than a poll interval: later jobs (most leases) need no wake-up.
    if (due > now && due - now >= milliseconds(settings_.poll_interval_ms)) return;
    const auto steady_due =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::max(due, now) - now);
    bool any = false;
    {
      std::lock_guard lock(wake_mutex_);
      for (auto& slot : slots_) {
        if (slot.deadline > steady_due) {
          slot.woken = true;
          any = true;
        }
      }
    }
    if (any) wake_cv_.notify_all();
  }

  // From now until sleep_until(), an enqueue of any job wakes worker `w`.
  void begin_check(std::size_t w) {
    std::lock_guard lock(wake_mutex_);
    slots_[w].woken = false;
    slots_[w].deadline = Clock::time_point::max();
  }

  // Sleeps until `deadline`, a wake-up or stop().
  void sleep_until(std::size_t w, Clock::time_point deadline) {
    std::unique_lock lock(wake_mutex_);
    slots_[w].deadline = deadline;
    wake_cv_.wait_until(lock, deadline, [&] { return stopping_ || slots_[w].woken; });
    slots_[w].woken = false;
    slots_[w].deadline = Clock::time_point::min();
  }

  // Sleeps until `deadline` or stop(); true if stopping.
  bool idle_until(Clock::time_point deadline) {
    std::unique_lock lock(wake_mutex_);
    return wake_cv_.wait_until(lock, deadline, [&] { return stopping_; });
  }

  bool stopping() {
    std::lock_guard lock(wake_mutex_);
    return stopping_;
  }

  // --- Workers ---------------------------------------------------------------------------------
  void worker_loop(std::size_t w) {
    sdk::name_this_thread("pgq-worker-" + std::to_string(w));
    std::unique_ptr<pg::Connection> conn;
    double handler_ms = 10;  // moving average of handler run time; sizes the claims
    ClaimCursor cursor(kinds_.size());
    int contended = 0;  // claims in a row that found nothing while a job was due
    bool failing = false;
    while (!stopping()) {
      try {
        if (!conn) {
          set_claimer(w, 0);
          conn = std::make_unique<pg::Connection>(url_);
          prepare(*conn, true);
          set_claimer(
              w, static_cast<int>(
                     conn->exec_prepared(std::string(kHoldClaimerLock.name), {}).get_int(0, 0)));
        }
        // Claim as many as run within the batch budget: many fast handlers per round trip, and
        // slow ones spread over all workers instead of queueing behind one.
        const int limit =
            std::clamp(static_cast<int>(kBatchBudget.count() / std::max(handler_ms, 0.05)), 1,
                       settings_.batch_size);
        auto claimed = claim(*conn, limit, cursor);
        if (failing) host_.log(sdk::LogLevel::info, "worker " + std::to_string(w) + " reconnected");
        failing = false;
        if (!claimed.empty()) {
          contended = 0;
          run_batch(*conn, claimed, handler_ms);
          continue;
        }
        begin_check(w);
        const auto due_in = next_due_ms(*conn);
        Clock::duration pause = milliseconds(settings_.poll_interval_ms);
        if (!due_in || *due_in > 0) {
          contended = 0;
          if (due_in) {
            pause = std::min(pause, std::chrono::ceil<Clock::duration>(
                                        std::chrono::duration<double, std::milli>(*due_in)));
          }
        } else if (++contended == 1) {
          pause = Clock::duration::zero();  // it became due after the claim: look again at once
        } else {
          // Due, yet claims find nothing: another worker or instance holds it. Pause, longer
          // each time, rather than spin.
          pause =
              std::min(pause, Clock::duration(kContendedPause * (1 << std::min(contended - 2, 6))));
        }
        sleep_until(w, Clock::now() + pause);
      } catch (const std::exception& e) {
        if (!failing) {
          host_.log(sdk::LogLevel::warn,
                    "worker " + std::to_string(w) + ": " + e.what() + " (retrying)");
        }
        failing = true;
        conn.reset();  // it may be broken, or half set up
        idle_until(Clock::now() + milliseconds(std::max(settings_.poll_interval_ms, 1000)));
      }
    }
  }

  std::vector<Claimed> claim(pg::Connection& conn, int limit, ClaimCursor& cursor) {
    auto [after_us, after_id] = cursor.params(Clock::now());
    const auto r =
        conn.exec_prepared(std::string(kClaim.name), {kinds_param_, std::to_string(limit),
                                                      std::to_string(visibility().count()),
                                                      std::move(after_us), std::move(after_id)});
    std::vector<Claimed> claimed;
    claimed.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      Claimed c;
      c.id = r.get_int(i, 0);
      c.run_at_us = r.get_int(i, 4);
      c.job.id = std::string(r.get(i, 0));
      c.job.kind = std::string(r.get(i, 1));
      c.job.payload = nlohmann::json::parse(r.get(i, 2));
      c.job.attempt = static_cast<int>(r.get_int(i, 3));
      c.job.run_at = JobClock::time_point(
          std::chrono::duration_cast<JobClock::duration>(std::chrono::microseconds(c.run_at_us)));
      c.due_since = JobClock::time_point(std::chrono::duration_cast<JobClock::duration>(
          std::chrono::microseconds(r.get_int(i, 5))));
      const auto kind = std::find(kinds_.begin(), kinds_.end(), c.job.kind) - kinds_.begin();
      cursor.advance(static_cast<std::size_t>(kind), c);
      claimed.push_back(std::move(c));
    }
    if (claimed.empty()) cursor.restart();
    std::sort(claimed.begin(), claimed.end(), [](const Claimed& a, const Claimed& b) {
      return a.job.run_at != b.job.run_at ? a.job.run_at < b.job.run_at : a.id < b.id;
    });
    return claimed;
  }

  std::optional<double> next_due_ms(pg::Connection& conn) {
    const auto r = conn.exec_prepared(std::string(kNextDue.name), {kinds_param_});
    if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
    return std::strtod(std::string(r.get(0, 0)).c_str(), nullptr);
  }

  // Runs the claimed jobs in due order on this thread, then records all outcomes at once. The
  // jobs of a kind with a batch handler run in one call, when the first of them is due to run.
  void run_batch(pg::Connection& conn, const std::vector<Claimed>& claimed, double& handler_ms) {
    const auto claimed_at = Clock::now();
    // Jobs not started by then go back to the queue rather than start close to their
    // visibility timeout (and run twice).
    const auto start_by = claimed_at + visibility() / 2;
    std::vector<std::optional<sdk::JobOutcome>> results(claimed.size());  // empty: not run
    std::vector<double> run_ms(claimed.size(), 0);
    for (std::size_t i = 0; i < claimed.size(); ++i) {
      if (results[i]) continue;  // ran with an earlier job of its kind
      if (stopping() || Clock::now() > start_by) break;
      const auto& kind = handlers_.at(claimed[i].job.kind);
      std::vector<std::size_t> group{i};
      for (std::size_t k = i + 1; kind.batch && k < claimed.size(); ++k) {
        if (claimed[k].job.kind == claimed[i].job.kind) group.push_back(k);
      }
      std::vector<sdk::Job> jobs;
      jobs.reserve(group.size());
      const auto started = JobClock::now();
      for (const auto k : group) {
        lateness_by_kind_.at(claimed[k].job.kind)
            ->Observe(std::max(
                0.0, std::chrono::duration<double>(started - claimed[k].due_since).count()));
        jobs.push_back(claimed[k].job);
      }
      auto outcomes = run_handler(kind, jobs);
      const double ms =
          std::chrono::duration<double, std::milli>(JobClock::now() - started).count() /
          static_cast<double>(group.size());
      handler_ms = 0.8 * handler_ms + 0.2 * ms;
      for (std::size_t g = 0; g < group.size(); ++g) {
        results[group[g]] = std::move(outcomes[g]);
        run_ms[group[g]] = ms;
      }
    }
    nlohmann::json outcomes = nlohmann::json::array();
    std::vector<std::pair<std::string, const char*>> counted;  // (kind, outcome) per job
    std::string ids = "{";
    for (std::size_t i = 0; i < claimed.size(); ++i) {
      const auto& c = claimed[i];
      ids += (ids.size() > 1 ? "," : "") + c.job.id;
      if (!results[i]) {
        outcomes.push_back({{"id", c.id}, {"attempts", c.job.attempt}, {"outcome", "release"}});
        counted.emplace_back(c.job.kind, nullptr);
        continue;
      }
      const auto& outcome = *results[i];
      const double ms = run_ms[i];
      nlohmann::json row = {{"id", c.id}, {"attempts", c.job.attempt}};
      const char* label = "done";
      if (outcome.kind == sdk::JobOutcome::Kind::done) {
        row["outcome"] = "done";
      } else if (outcome.kind == sdk::JobOutcome::Kind::failed ||
                 c.job.attempt >= settings_.max_attempts) {
        row["outcome"] = label = "dead";
        row["error"] = truncated(outcome.detail.empty() ? "failed" : outcome.detail);
      } else {
        std::mt19937_64& rng = random_engine();
        row["outcome"] = label = "retry";
        row["delay_ms"] = retry_delay(settings_, c.job.attempt, outcome.retry_after, rng).count();
        row["error"] = truncated(outcome.detail.empty() ? "retry requested" : outcome.detail);
      }
      host_.log(sdk::LogLevel::debug, "job " + c.job.id + " (" + c.job.kind + ", attempt " +
                                          std::to_string(c.job.attempt) +
                                          "): " + row["outcome"].get<std::string>() + " in " +
                                          std::to_string(static_cast<int>(ms)) + " ms" +
                                          (outcome.detail.empty() ? "" : ": " + outcome.detail));
      outcomes.push_back(std::move(row));
      counted.emplace_back(c.job.kind, label);
    }
    ids += "}";
    const auto recorded = conn.exec_prepared(
        std::string(kRecord.name),
        {outcomes.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), ids});
    // Only outcomes that were recorded count: a job whose visibility timeout passed belongs to
    // the run that replaced it.
    std::set<long long> kept;
    for (int i = 0; i < recorded.rows(); ++i) kept.insert(recorded.get_int(i, 0));
    for (std::size_t i = 0; i < claimed.size(); ++i) {
      if (counted[i].second != nullptr && kept.count(claimed[i].id) != 0) {
        counter(counted[i].first, counted[i].second).Increment();
      }
    }
  }

  [[nodiscard]] milliseconds visibility() const {
    return milliseconds(static_cast<long long>(settings_.visibility_timeout_s) * 1000);
  }

  // The outcome of each job; a handler that throws, or a batch handler that answers for another
  // number of jobs, asks for a retry.
  static std::vector<sdk::JobOutcome> run_handler(const KindHandler& handler,
                                                  const std::vector<sdk::Job>& jobs) {
    const auto retry = [](std::string why) {
      return sdk::JobOutcome{sdk::JobOutcome::Kind::retry, milliseconds(0), std::move(why)};
    };
    std::vector<sdk::JobOutcome> outcomes;
    try {
      if (!handler.batch) {
        outcomes.push_back(handler.single(jobs.front()));
        return outcomes;
      }
      outcomes = handler.batch(jobs);
      if (outcomes.size() == jobs.size()) return outcomes;
      return {jobs.size(), retry("the batch handler answered " + std::to_string(outcomes.size()) +
                                 " outcomes for " + std::to_string(jobs.size()) + " jobs")};
    } catch (const std::exception& e) {
      return {jobs.size(), retry(std::string("handler threw: ") + e.what())};
    } catch (...) {
      return {jobs.size(), retry("handler threw a non-standard exception")};
    }
  }

  static std::mt19937_64& random_engine() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng;
  }

  // --- Maintenance -----------------------------------------------------------------------------
  void maintenance_loop() {
    sdk::name_this_thread("pgq-maintain");
    std::unique_ptr<pg::Connection> conn;
    auto next_housekeeping = Clock::now();
    auto next_gauges = Clock::now();
    bool failing = false;
    do {
      try {
        if (!conn) {
          conn = std::make_unique<pg::Connection>(url_);
          prepare(*conn, true);
        }
        extend(*conn);
        rescue(*conn);
        if (Clock::now() >= next_housekeeping) {
          next_housekeeping = Clock::now() + kHousekeepingInterval;
          cleanup(*conn);
        }
        if (const auto start = Clock::now(); start >= next_gauges) {
          // Counting a deep queue takes long (100,000 queued jobs: 150 ms of the database's
          // time), so the counts come less often then, not every second.
          refresh_gauges(*conn);
          next_gauges =
              Clock::now() + std::max<Clock::duration>(kHousekeepingInterval,
                                                       (Clock::now() - start) * kGaugeTimeShare);
        }
        failing = false;
      } catch (const std::exception& e) {
        if (!failing) host_.log(sdk::LogLevel::warn, std::string("maintenance: ") + e.what());
        failing = true;
        conn.reset();
      }
      // Often enough that a running job's lock is extended well before it runs out.
    } while (!idle_until(Clock::now() +
                         std::min(milliseconds(settings_.poll_interval_ms), visibility() / 4)));
  }

  // The backend pid of worker `w`'s session (0 while it has none), for the heartbeat.
  void set_claimer(std::size_t w, int pid) {
    std::lock_guard lock(claimers_mutex_);
    claimers_[w] = pid;
  }

  // Keeps the jobs this instance's workers run from passing their visibility timeout.
  void extend(pg::Connection& conn) {
    std::vector<std::string> pids;
    {
      std::lock_guard lock(claimers_mutex_);
      for (const int pid : claimers_) {
        if (pid != 0) pids.push_back(std::to_string(pid));
      }
    }
    if (pids.empty()) return;
    conn.exec_prepared(std::string(kExtend.name),
                       {pg::text_array(pids), std::to_string(visibility().count())});
  }

  // Requeues (or dead-letters) running jobs whose worker is gone.
  void rescue(pg::Connection& conn) {
    const auto r =
        conn.exec_prepared(std::string(kRescue.name),
                           {std::to_string(kRescueBatch), std::to_string(settings_.max_attempts)});
    bool requeued = false;
    for (int i = 0; i < r.rows(); ++i) {
      const bool dead = r.get(i, 1) == "dead";
      requeued = requeued || !dead;
      counter(std::string(r.get(i, 0)), dead ? "dead" : "retry").Increment();
    }
    if (r.rows() > 0) {
      host_.log(sdk::LogLevel::warn,
                std::to_string(r.rows()) +
                    " running jobs lost their worker (session ended or visibility timeout "
                    "passed); requeued or dead");
    }
    if (requeued) wake_before(JobClock::now());
  }

  void cleanup(pg::Connection& conn) {
    for (int i = 0; i < kCleanupBatchesPerPass && !stopping(); ++i) {
      const auto r = conn.exec_prepared(
          std::string(kCleanup.name),
          {std::to_string(settings_.retention_s), std::to_string(kCleanupBatch)});
      if (r.affected() < kCleanupBatch) break;
    }
  }

  void refresh_gauges(pg::Connection& conn) {
    const std::string kinds = std::to_string(kMaxGaugeKinds);
    std::map<std::string, double> depth, due, oldest_due, dead;
    const auto queued = conn.exec_prepared(std::string(kDepth.name), {kinds});
    for (int i = 0; i < queued.rows(); ++i) {
      const std::string kind(queued.get(i, 0));
      depth[kind] = static_cast<double>(queued.get_int(i, 1));
      due[kind] = static_cast<double>(queued.get_int(i, 2));
      oldest_due[kind] = std::strtod(std::string(queued.get(i, 3)).c_str(), nullptr);
    }
    const auto failed = conn.exec_prepared(std::string(kDeadCount.name), {kinds});
    for (int i = 0; i < failed.rows(); ++i) {
      dead[std::string(failed.get(i, 0))] = static_cast<double>(failed.get_int(i, 1));
    }
    set_gauges(depth_, depth);
    set_gauges(due_, due);
    set_gauges(oldest_due_, oldest_due);
    set_gauges(dead_, dead);
  }

  // --- Metrics ---------------------------------------------------------------------------------
  // Label values are job kinds: the handled ones, and those found in the table (bounded).
  struct KindGauges {
    explicit KindGauges(prometheus::Family<prometheus::Gauge>& f) : family(f) {}
    prometheus::Family<prometheus::Gauge>& family;
    std::map<std::string, prometheus::Gauge*> gauges;
  };

  prometheus::Counter& counter(const std::string& kind, const char* outcome) {
    std::lock_guard lock(metrics_mutex_);
    auto& c = counters_[{kind, outcome}];
    if (c == nullptr) c = &jobs_total_.Add({{"kind", kind}, {"outcome", outcome}});
    return *c;
  }

  prometheus::Gauge& gauge(KindGauges& gauges, const std::string& kind) {
    std::lock_guard lock(metrics_mutex_);
    auto& g = gauges.gauges[kind];
    if (g == nullptr) g = &gauges.family.Add({{"kind", kind}});
    return *g;
  }

  // Sets the gauge of each kind in `values`, and those of the kinds not in it to 0.
  void set_gauges(KindGauges& gauges, const std::map<std::string, double>& values) {
    for (const auto& [kind, value] : values) gauge(gauges, kind).Set(value);
    std::lock_guard lock(metrics_mutex_);
    for (auto& [kind, g] : gauges.gauges) {
      if (values.count(kind) == 0) g->Set(0);
    }
  }

  sdk::HostContext& host_;
  const Settings settings_;
  const std::string url_;
  prometheus::Family<prometheus::Counter>& jobs_total_;
  KindGauges depth_;
  KindGauges due_;
  KindGauges oldest_due_;
  KindGauges dead_;
  prometheus::Family<prometheus::Histogram>& lateness_;
  // One per handled kind, made at start(); claims return only handled kinds.
  std::map<std::string, prometheus::Histogram*> lateness_by_kind_;
  std::mutex metrics_mutex_;
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> counters_;
  pg::Pool pool_;

  std::map<std::string, KindHandler> handlers_;  // fixed once started
  std::vector<std::string> kinds_;
  std::string kinds_param_;
  std::atomic<bool> started_{false};

  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  std::vector<Slot> slots_;  // one per worker
  std::mutex claimers_mutex_;
  std::vector<int> claimers_;  // per worker: its session's backend pid, 0 while it has none
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace flashsale::plugins::pg_queue

FLASHSALE_PLUGIN(flashsale::plugins::pg_queue::PgQueueScheduler, "pg_queue", "1.0.0")
