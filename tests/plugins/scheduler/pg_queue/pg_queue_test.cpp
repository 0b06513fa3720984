// The pg_queue scheduler, loaded through the real plugin loader against a real PostgreSQL: its
// polling statements use indexes, jobs run at (not before) their time, enqueue is idempotent,
// failures retry with backoff and dead-letter, a killed worker's job runs again with one effect,
// and two instances never run a job at the same time.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <flashsale/pg/connection.hpp>
#include <flashsale/sdk/scheduler.hpp>
#include <iostream>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "event_bus.hpp"
#include "job_effect.hpp"
#include "metrics.hpp"
#include "plugin_host.hpp"
#include "process.hpp"
#include "queries.hpp"
#include "settings.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale;
using namespace std::chrono_literals;
using sdk::Job;
using sdk::JobClock;
using sdk::JobOutcome;
using sdk::NewJob;

namespace {

std::string migrated_database() {
  std::string url = test::fresh_database();
  test::migrate_plugins(url, {"flashsale_scheduler_pg_queue"});
  return url;
}

// One scheduler, loaded by its own PluginHost (as in `flashsale serve`) with `settings` as
// `plugin.pg_queue`.
class Instance {
 public:
  Instance(const std::string& url, const nlohmann::json& settings) {
    config_ = load_config(std::nullopt, {});
    config_.plugins_dir = FLASHSALE_PLUGIN_DIR;
    config_.plugins.clear();
    config_.tree["plugin"]["pg_queue"] = settings;
    host_ = std::make_unique<PluginHost>(config_, url, metrics_, bus_);
    auto& loaded = host_->load({"flashsale_scheduler_pg_queue", true});
    scheduler_ = dynamic_cast<sdk::Scheduler*>(loaded.object.get());
    REQUIRE(scheduler_ != nullptr);
  }
  sdk::Scheduler* operator->() const { return scheduler_; }
  void start() { host_->start_all(); }
  void stop() { host_->stop_all(); }
  [[nodiscard]] std::string metrics() const { return metrics_.serialize(); }
  // Counters move just after the commit that finished a job, so a test that saw the commit waits
  // for them.
  [[nodiscard]] bool metrics_show(const std::string& line) const {
    return test::eventually([&] { return metrics().find(line) != std::string::npos; });
  }
  [[nodiscard]] std::vector<PluginHealth> health() const { return host_->health(); }

 private:
  Config config_;
  Metrics metrics_;
  EventBus bus_{16};
  std::unique_ptr<PluginHost> host_;
  sdk::Scheduler* scheduler_ = nullptr;
};

std::string refusal(const std::string& url, const nlohmann::json& settings) {
  try {
    Instance instance(url, settings);
  } catch (const PluginRefused& e) {
    return e.what();
  }
  return "(loaded)";
}

// What handlers saw, from any thread.
struct Run {
  std::string id;
  std::string tag;  // payload "tag"
  int attempt = 0;
  JobClock::time_point run_at;
  JobClock::time_point start;
  JobClock::time_point end;
  std::string runner;
};

class Recorder {
 public:
  void add(Run run) {
    std::lock_guard lock(mutex_);
    runs_.push_back(std::move(run));
  }
  std::vector<Run> runs() const {
    std::lock_guard lock(mutex_);
    return runs_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return runs_.size();
  }
  // A handler that records each run and answers `outcome`.
  sdk::Scheduler::Handler handler(const std::string& runner = "",
                                  std::chrono::milliseconds work = 0ms,
                                  const JobOutcome& outcome = {}) {
    return [this, runner, work, outcome](const Job& job) {
      Run run{job.id, job.payload.value("tag", ""), job.attempt, job.run_at, JobClock::now(), {},
              runner};
      if (work > 0ms) std::this_thread::sleep_for(work);
      run.end = JobClock::now();
      add(std::move(run));
      return outcome;
    };
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Run> runs_;
};

NewJob job(const std::string& kind, const std::string& tag,
           JobClock::time_point run_at = JobClock::now(), const std::string& unique_key = "") {
  return {kind, {{"tag", tag}}, run_at, unique_key};
}

double ms(JobClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

long long scalar(pg::Connection& conn, const std::string& sql) {
  return conn.exec(sql).get_int(0, 0);
}

std::string explain(pg::Connection& conn, const std::string& sql) {
  const auto r = conn.exec("EXPLAIN " + sql);
  std::string plan;
  for (int i = 0; i < r.rows(); ++i) plan += std::string(r.get(i, 0)) + "\n";
  return plan;
}

}  // namespace

TEST_CASE("pg_queue settings are validated strictly") {
  const std::string url = migrated_database();
  CHECK(refusal(url, nlohmann::json::object()) == "(loaded)");
  CHECK(refusal(url, {{"threads", 4},
                      {"batch_size", 10},
                      {"max_attempts", 3},
                      {"visibility_timeout_s", 30},
                      {"poll_interval_ms", 100},
                      {"retention_s", 60},
                      {"backoff_base_ms", 10},
                      {"backoff_max_ms", 1000}}) == "(loaded)");
  CHECK_THAT(refusal(url, {{"threadz", 2}}),
             Catch::Contains("factory threw: unknown key plugin.pg_queue.threadz"));
  CHECK_THAT(refusal(url, {{"threads", 0}}), Catch::Contains("plugin.pg_queue.threads must be"));
  CHECK_THAT(refusal(url, {{"threads", "2"}}), Catch::Contains("plugin.pg_queue.threads must be"));
  CHECK_THAT(refusal(url, {{"poll_interval_ms", 1.5}}),
             Catch::Contains("plugin.pg_queue.poll_interval_ms must be"));
  CHECK_THAT(refusal(url, {{"backoff_base_ms", 500}, {"backoff_max_ms", 100}}),
             Catch::Contains("backoff_max_ms must not be below"));
}

TEST_CASE("the retry delay grows exponentially with jitter, is capped, and honours retry_after") {
  plugins::pg_queue::Settings settings;
  settings.backoff_base_ms = 1000;
  settings.backoff_max_ms = 60000;
  std::mt19937_64 rng(7);
  for (int attempt = 1; attempt <= 40; ++attempt) {
    const long long exponential = std::min(60000LL, 1000LL << std::min(attempt - 1, 20));
    for (int i = 0; i < 50; ++i) {
      const auto delay = plugins::pg_queue::retry_delay(settings, attempt, 0ms, rng).count();
      INFO("attempt " << attempt);
      CHECK(delay >= exponential / 2);
      CHECK(delay <= exponential);
    }
  }
  // Jitter spreads jobs that failed together.
  std::set<long long> spread;
  for (int i = 0; i < 20; ++i) {
    spread.insert(plugins::pg_queue::retry_delay(settings, 3, 0ms, rng).count());
  }
  CHECK(spread.size() > 10);
  // A handler's retry_after is a floor, even above the cap.
  CHECK(plugins::pg_queue::retry_delay(settings, 1, 10min, rng) == 10min);
  CHECK(plugins::pg_queue::retry_delay(settings, 1, 1ms, rng) >= 500ms);
}

TEST_CASE("every polling statement reads an index, never the whole jobs table") {
  const std::string url = migrated_database();
  pg::Connection conn(url);
  // Enough rows, of every state, that a sequential scan would be the cheap plan if the
  // statements could not use their indexes.
  conn.exec(
      "INSERT INTO jobs (kind, payload, state, run_at, attempts, finished_at)"
      " SELECT 'expire_lease', jsonb_build_object('n', g), 'done', now() - interval '3 hours', 1,"
      " now() - (g % 7200) * interval '1 second' FROM generate_series(1, 10000) g;"
      "INSERT INTO jobs (kind, payload, run_at)"
      " SELECT (ARRAY['expire_lease', 'make_payment_link', 'unhandled'])[1 + g % 3],"
      " jsonb_build_object('n', g), now() + (g % 600 - 300) * interval '1 second'"
      " FROM generate_series(1, 10000) g;"
      "INSERT INTO jobs (kind, state, attempts, locked_until)"
      " SELECT 'expire_lease', 'running', 1, now() + (g % 60 - 30) * interval '1 second'"
      " FROM generate_series(1, 200) g;"
      "INSERT INTO jobs (kind, state, attempts, finished_at)"
      " SELECT 'refund', 'dead', 8, now() FROM generate_series(1, 50) g;"
      "ANALYZE jobs");
  for (const auto& s : plugins::pg_queue::kStatements) {
    conn.prepare(std::string(s.name), std::string(s.sql));
  }
  struct Case {
    std::string execute;
    std::string index;
  };
  const std::vector<Case> cases = {
      {"claim('{expire_lease,make_payment_link}', 32, 60000, '{NULL,NULL}', '{NULL,NULL}')",
       "jobs_due"},
      {"claim('{expire_lease,make_payment_link}', 32, 60000, '{1765000000000000,NULL}',"
       " '{1234,NULL}')",
       "jobs_due"},
      {"next_due('{expire_lease,make_payment_link}')", "jobs_due"},
      {R"(record('[{"id": 5, "attempts": 1, "outcome": "done"}]', '{5}'))", "jobs_pkey"},
      {"rescue(1000, 8)", "jobs_running"},
      {"extend('{101,102}', 60000)", "jobs_running"},
      {"cleanup(3600, 1000)", "jobs_finished"},
      {"list_dead(100)", "jobs_dead"},
      {"dead_count(100)", "jobs_dead"},
  };
  // Both the plan made for these values and the generic plan a prepared statement switches to.
  for (const char* mode : {"force_custom_plan", "force_generic_plan"}) {
    conn.exec(std::string("SET plan_cache_mode = ") + mode);
    for (const auto& c : cases) {
      const std::string plan = explain(conn, "EXECUTE " + c.execute);
      INFO(mode << ": " << c.execute << "\n" << plan);
      CHECK_THAT(plan, !Catch::Contains("Seq Scan"));
      CHECK_THAT(plan, Catch::Contains(" " + c.index));
    }
  }
  // The claim and the cleanup take a bounded number of rows per statement.
  conn.exec("SET plan_cache_mode = force_generic_plan");
  CHECK_THAT(explain(conn, "EXECUTE claim('{expire_lease}', 32, 60000, '{NULL}', '{NULL}')"),
             Catch::Contains("Limit") && Catch::Contains("LockRows"));
  CHECK_THAT(explain(conn, "EXECUTE cleanup(3600, 1000)"),
             Catch::Contains("Limit") && Catch::Contains("LockRows"));
}

TEST_CASE("jobs run at their run_at, not before, and promptly after") {
  const std::string url = migrated_database();
  // With a long poll interval, only a precise sleep makes the jobs run on time.
  Instance scheduler(url, {{"poll_interval_ms", 5000}});
  Recorder recorder;
  scheduler->on("tick", recorder.handler());
  scheduler.start();

  const auto base = JobClock::now() + 300ms;
  std::vector<NewJob> jobs;
  std::map<std::string, JobClock::time_point> wanted;
  for (int i = 0; i < 20; ++i) {
    const auto at = base + i * 60ms + std::chrono::microseconds(137 * i);
    jobs.push_back(job("tick", "t" + std::to_string(i), at));
    wanted["t" + std::to_string(i)] = at;
  }
  jobs.push_back(job("tick", "overdue", JobClock::now() - 5s));
  wanted["overdue"] = jobs.back().run_at;
  REQUIRE(scheduler->enqueue(jobs) == 21);
  REQUIRE(test::eventually([&] { return recorder.size() == 21; }, 10s));

  std::vector<double> lateness;
  for (const auto& run : recorder.runs()) {
    INFO(run.tag);
    CHECK(run.attempt == 1);
    // The handler sees the time it asked for (to the microsecond, rounded up).
    CHECK(run.run_at >= wanted[run.tag]);
    CHECK(run.run_at - wanted[run.tag] < 1us);
    CHECK(run.start >= wanted[run.tag]);  // never before
    if (run.tag != "overdue") lateness.push_back(ms(run.start - wanted[run.tag]));
  }
  std::sort(lateness.begin(), lateness.end());
  std::cout << "pg_queue lateness over " << lateness.size() << " timed jobs: p50 "
            << lateness[lateness.size() / 2] << " ms, max " << lateness.back() << " ms\n";
  // A loose bound (timing figures belong in bench/): a sleep that missed its job would show as
  // a poll interval (5 s).
  CHECK(lateness.back() < 500);

  pg::Connection conn(url);
  REQUIRE(test::eventually(
      [&] { return scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'done'") == 21; }));
  REQUIRE(scheduler.metrics_show(R"(flashsale_jobs_total{kind="tick",outcome="done"} 21)"));
  const std::string metrics = scheduler.metrics();
  CHECK_THAT(metrics, Catch::Contains(R"(flashsale_jobs_total{kind="tick",outcome="done"} 21)"));
  CHECK_THAT(metrics, Catch::Contains(R"(flashsale_job_lateness_seconds_count{kind="tick"} 21)"));
  // The job asked for 5 s in the past is late from its enqueue, not 5 s late: the sum is the
  // timed jobs' lateness plus well under a second.
  std::smatch sum;
  REQUIRE(std::regex_search(
      metrics, sum, std::regex(R"re(flashsale_job_lateness_seconds_sum\{kind="tick"\} (\S+))re")));
  const double timed_s = std::accumulate(lateness.begin(), lateness.end(), 0.0) / 1000.0;
  CHECK(std::stod(sum[1]) < timed_s + 1.0);
  const auto health = scheduler.health();
  REQUIRE(health.size() == 1);
  CHECK(health[0].ok);
}

TEST_CASE("a job enqueued while the workers sleep runs on time, not at the next poll") {
  const std::string url = migrated_database();
  // Polling alone would find the early job only after 10 s.
  Instance scheduler(url, {{"poll_interval_ms", 10000}});
  Recorder recorder;
  scheduler->on("tick", recorder.handler());
  scheduler.start();
  REQUIRE(scheduler->enqueue({job("tick", "late", JobClock::now() + 8s)}) == 1);
  // Not waiting for anything: gives the workers time to go to sleep until the late job, which
  // is the situation under test (the test also holds if they have not).
  std::this_thread::sleep_for(300ms);
  const auto early_at = JobClock::now() + 200ms;
  REQUIRE(scheduler->enqueue({job("tick", "early", early_at)}) == 1);
  REQUIRE(test::eventually([&] { return recorder.size() == 1; }, 5s));
  const auto run = recorder.runs().at(0);
  CHECK(run.tag == "early");
  CHECK(run.start >= early_at);
  std::cout << "pg_queue lateness after a wake-up: " << ms(run.start - early_at) << " ms\n";
  CHECK(run.start - early_at < 1s);
}

TEST_CASE("during a backlog, a job that becomes due behind the claims still runs within seconds") {
  // Workers claim from where their last claim ended, not from the head of the queue; a job due
  // before that point (here: enqueued with a run_at in the past) is found by the next claim
  // from the head, at least once a second, not when the backlog is gone.
  const std::string url = migrated_database();
  Instance scheduler(url, {{"threads", 2}});
  Recorder recorder;
  scheduler->on("slow", recorder.handler("", 4ms));
  std::vector<NewJob> backlog;
  backlog.reserve(2500);
  for (int i = 0; i < 2500; ++i) backlog.push_back(job("slow", "b" + std::to_string(i)));
  REQUIRE(scheduler->enqueue(backlog) == 2500);  // about 5 s of work for two workers
  scheduler.start();
  REQUIRE(test::eventually([&] { return recorder.size() >= 200; }, 10s));
  const auto enqueued = JobClock::now();
  REQUIRE(scheduler->enqueue({job("slow", "behind", enqueued - 1h)}) == 1);
  REQUIRE(test::eventually([&] { return recorder.size() == 2501; }, 30s));
  const auto runs = recorder.runs();
  const auto behind =
      std::find_if(runs.begin(), runs.end(), [](const Run& r) { return r.tag == "behind"; });
  REQUIRE(behind != runs.end());
  const auto ran_after = behind - runs.begin();
  std::cout << "pg_queue: a job due behind the claims ran " << ms(behind->start - enqueued)
            << " ms after its enqueue, as run " << ran_after << " of 2501\n";
  CHECK(behind->start - enqueued < 3s);
  CHECK(ran_after < 2000);  // well before the backlog was gone
}

TEST_CASE("enqueue is idempotent per unique_key") {
  const std::string url = migrated_database();
  Instance scheduler(url, nlohmann::json::object());
  const auto later = JobClock::now() + 400ms;
  CHECK(scheduler->enqueue({job("once", "a", later, "order-1"),
                            job("once", "a-dup", later, "order-1"),
                            job("once", "b", later, "order-2"), job("once", "c", later),
                            job("once", "d", later)}) == 4);
  CHECK(scheduler->enqueue({job("once", "a-again", later, "order-1"),
                            job("once", "b-again", later, "order-2")}) == 0);
  CHECK(scheduler->enqueue({}) == 0);
  Recorder recorder;
  scheduler->on("once", recorder.handler());
  scheduler.start();
  REQUIRE(test::eventually([&] { return recorder.size() == 4; }, 5s));
  // Still a duplicate while the done job is kept.
  CHECK(scheduler->enqueue({job("once", "a-later", JobClock::now(), "order-1")}) == 0);
  std::this_thread::sleep_for(300ms);  // a duplicate run would show up by now
  std::multiset<std::string> tags;
  for (const auto& run : recorder.runs()) tags.insert(run.tag);
  CHECK(tags == std::multiset<std::string>{"a", "b", "c", "d"});
}

TEST_CASE("failures retry with backoff, dead-letter after max_attempts, and can be retried") {
  const std::string url = migrated_database();
  Instance scheduler(url, {{"max_attempts", 3}, {"backoff_base_ms", 200}, {"backoff_max_ms", 400}});
  Recorder recorder;
  std::atomic<bool> provider_up{false};
  scheduler->on("pay", [&](const Job& j) -> JobOutcome {
    recorder.handler()(j);
    if (provider_up) return {};
    return {JobOutcome::Kind::retry, 0ms, "provider down"};
  });
  scheduler.start();
  const auto enqueued_run_at = JobClock::now();
  REQUIRE(scheduler->enqueue({job("pay", "p1", enqueued_run_at)}) == 1);
  pg::Connection conn(url);
  REQUIRE(test::eventually(
      [&] { return scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'dead'") == 1; }, 5s));

  const auto runs = recorder.runs();
  REQUIRE(runs.size() == 3);
  CHECK(runs[0].attempt == 1);
  CHECK(runs[1].attempt == 2);
  CHECK(runs[2].attempt == 3);
  // The first delay is 200 ms with jitter in its upper half, the second 400 ms likewise.
  CHECK(runs[1].start - runs[0].end >= 100ms);
  CHECK(runs[2].start - runs[1].end >= 200ms);
  // run_at moved with each retry; the handler saw the new one.
  CHECK(runs[1].run_at > runs[0].start);
  CHECK(runs[2].run_at > runs[1].start);
  CHECK(runs[2].start >= runs[2].run_at);

  const auto dead = scheduler->list_jobs("dead", 10);
  REQUIRE(dead["jobs"].size() == 1);
  const auto& letter = dead["jobs"][0];
  const std::string id = letter["id"];
  CHECK(letter["kind"] == "pay");
  CHECK(letter["state"] == "dead");
  CHECK(letter["attempts"] == 3);
  CHECK(letter["last_error"] == "provider down");
  CHECK(letter["payload"]["tag"] == "p1");
  CHECK(scheduler->list_jobs("queued", 10)["jobs"].empty());
  REQUIRE(scheduler.metrics_show(R"(flashsale_jobs_total{kind="pay",outcome="dead"} 1)"));
  CHECK_THAT(scheduler.metrics(),
             Catch::Contains(R"(flashsale_jobs_total{kind="pay",outcome="retry"} 2)") &&
                 Catch::Contains(R"(flashsale_jobs_total{kind="pay",outcome="dead"} 1)"));

  CHECK_FALSE(scheduler->retry_job("not-a-number"));
  CHECK_FALSE(scheduler->retry_job("987654321"));
  provider_up = true;
  REQUIRE(scheduler->retry_job(id));
  CHECK_FALSE(scheduler->retry_job(id));  // no longer dead
  REQUIRE(test::eventually([&] { return recorder.size() == 4; }, 5s));
  CHECK(recorder.runs()[3].attempt == 1);  // attempts were reset
  REQUIRE(test::eventually(
      [&] { return scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'done'") == 1; }, 5s));
  CHECK(scheduler->list_jobs("dead", 10)["jobs"].empty());
  CHECK(scheduler->list_jobs("done", 10)["jobs"][0]["id"] == id);
  CHECK(scheduler.metrics_show(R"(flashsale_jobs_total{kind="pay",outcome="done"} 1)"));
}

TEST_CASE("a throwing handler counts as a retry; a failed outcome dead-letters at once") {
  const std::string url = migrated_database();
  Instance scheduler(url, {{"backoff_base_ms", 20}, {"backoff_max_ms", 50}});
  scheduler->on("throws", [](const Job& j) -> JobOutcome {
    if (j.attempt == 1) throw std::runtime_error("boom");
    return {};
  });
  scheduler->on("fails", [](const Job&) -> JobOutcome {
    return {JobOutcome::Kind::failed, 0ms, "card declined"};
  });
  scheduler.start();
  REQUIRE(scheduler->enqueue({job("throws", "t"), job("fails", "f")}) == 2);
  pg::Connection conn(url);
  REQUIRE(test::eventually(
      [&] {
        return scalar(conn, "SELECT count(*) FROM jobs WHERE state IN ('done', 'dead')") == 2;
      },
      5s));
  const auto rows = conn.exec("SELECT kind, state, attempts, last_error FROM jobs ORDER BY kind");
  CHECK(rows.get(0, 0) == "fails");
  CHECK(rows.get(0, 1) == "dead");
  CHECK(rows.get_int(0, 2) == 1);
  CHECK(rows.get(0, 3) == "card declined");
  CHECK(rows.get(1, 0) == "throws");
  CHECK(rows.get(1, 1) == "done");
  CHECK(rows.get_int(1, 2) == 2);
  CHECK_THAT(std::string(rows.get(1, 3)), Catch::Contains("boom"));
  REQUIRE(scheduler.metrics_show(R"(flashsale_jobs_total{kind="throws",outcome="done"} 1)"));
  const std::string metrics = scheduler.metrics();
  CHECK_THAT(metrics, Catch::Contains(R"(flashsale_jobs_total{kind="throws",outcome="retry"} 1)"));
  CHECK_THAT(metrics, Catch::Contains(R"(flashsale_jobs_total{kind="throws",outcome="done"} 1)"));
  CHECK_THAT(metrics, Catch::Contains(R"(flashsale_jobs_total{kind="fails",outcome="dead"} 1)"));
  CHECK_THAT(metrics, Catch::Contains(R"(flashsale_jobs_total{kind="fails",outcome="retry"} 0)"));
}

TEST_CASE("a batch handler takes the claimed jobs of its kind together, one outcome each") {
  const std::string url = migrated_database();
  Instance scheduler(url, {{"threads", 1}, {"backoff_base_ms", 20}, {"backoff_max_ms", 50}});
  std::mutex mutex;
  std::vector<std::size_t> calls;  // jobs per call of "set"
  std::multiset<std::string> seen;
  scheduler->on_batch("set", [&](const std::vector<Job>& jobs) {
    std::lock_guard lock(mutex);
    calls.push_back(jobs.size());
    std::vector<JobOutcome> outcomes;
    outcomes.reserve(jobs.size());
    for (const auto& j : jobs) {
      seen.insert(j.payload.value("tag", ""));
      outcomes.push_back(j.payload.value("tag", "") == "set-7"
                             ? JobOutcome{JobOutcome::Kind::failed, 0ms, "declined"}
                             : JobOutcome{});
    }
    return outcomes;
  });
  // Answers for no job on the first attempt: every job of the call is retried.
  scheduler->on_batch("short", [](const std::vector<Job>& jobs) {
    return jobs.front().attempt == 1 ? std::vector<JobOutcome>{}
                                     : std::vector<JobOutcome>(jobs.size());
  });
  Recorder recorder;
  scheduler->on("single", recorder.handler());
  CHECK_THROWS_WITH(scheduler->on("set", recorder.handler()),
                    Catch::Contains("has a handler already"));
  std::vector<NewJob> jobs;
  jobs.reserve(25);
  for (int i = 0; i < 20; ++i) jobs.push_back(job("set", "set-" + std::to_string(i)));
  for (int i = 0; i < 3; ++i) jobs.push_back(job("single", "single-" + std::to_string(i)));
  for (int i = 0; i < 2; ++i) jobs.push_back(job("short", "short-" + std::to_string(i)));
  REQUIRE(scheduler->enqueue(jobs) == jobs.size());
  scheduler.start();
  pg::Connection conn(url);
  REQUIRE(test::eventually(
      [&] {
        return scalar(conn, "SELECT count(*) FROM jobs WHERE state IN ('done', 'dead')") == 25;
      },
      10s));
  {
    std::lock_guard lock(mutex);
    CHECK(seen.size() == 20);  // each once
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 20);
    CHECK(calls.size() < 20);
    CHECK(*std::max_element(calls.begin(), calls.end()) >= 2);
  }
  CHECK(recorder.size() == 3);
  CHECK(scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'dead'") == 1);
  CHECK(conn.exec("SELECT payload->>'tag', last_error FROM jobs WHERE state = 'dead'").get(0, 0) ==
        "set-7");
  const auto shorts =
      conn.exec("SELECT state, attempts, last_error FROM jobs WHERE kind = 'short' ORDER BY id");
  REQUIRE(shorts.rows() == 2);
  for (int i = 0; i < 2; ++i) {
    CHECK(shorts.get(i, 0) == "done");
    CHECK(shorts.get_int(i, 1) == 2);
    CHECK_THAT(std::string(shorts.get(i, 2)), Catch::Contains("answered 0 outcomes for"));
  }
  CHECK(scheduler.metrics_show(R"(flashsale_jobs_total{kind="set",outcome="done"} 19)"));
}

TEST_CASE("a job of a kind nobody handles stays queued, and nobody polls for it in a loop") {
  const std::string url = migrated_database();
  Instance scheduler(url, nlohmann::json::object());
  Recorder recorder;
  scheduler->on("known", recorder.handler());
  scheduler.start();
  REQUIRE(scheduler->enqueue({job("unknown", "u", JobClock::now() - 1s)}) == 1);
  REQUIRE(test::eventually([&] {
    return scheduler.metrics().find(R"(flashsale_job_queue_depth{kind="unknown"} 1)") !=
           std::string::npos;
  }));
  // Transactions committed in this database over two seconds: the pollers' few per second, not
  // the thousands of a worker that keeps finding the due job it cannot run.
  pg::Connection conn(url);
  const std::string commits =
      "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()";
  const auto before = scalar(conn, commits);
  std::this_thread::sleep_for(2s);
  conn.exec("SELECT pg_stat_clear_snapshot()");
  const auto during = scalar(conn, commits) - before;
  std::cout << "pg_queue idle transactions in 2 s: " << during << "\n";
  CHECK(during < 400);
  CHECK(scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'queued' AND attempts = 0") == 1);
  CHECK(recorder.size() == 0);
}

TEST_CASE("a job whose worker process was killed runs again within seconds, once in effect") {
  const std::string url = migrated_database();
  pg::Connection conn(url);
  conn.exec(test::kEffectTables);
  // The job is enqueued by an instance that is not started (it runs nothing).
  Instance ours(url, {{"visibility_timeout_s", 2}, {"poll_interval_ms", 100}});
  REQUIRE(ours->enqueue({{"crashy", {{"ref", "order-7"}}, JobClock::now(), "crashy:order-7"}}) ==
          1);

  const auto log = test::temp_dir() / "crash_worker.log";
  const auto worker = process::spawn({PG_QUEUE_CRASH_WORKER, url, FLASHSALE_PLUGIN_DIR}, log);
  const bool started = test::eventually(
      [&] { return scalar(conn, "SELECT count(*) FROM runs WHERE runner = 'crash_worker'") == 1; },
      15s);
  if (!started) kill(worker.pid, SIGKILL);
  REQUIRE(started);
  const auto locked = conn.exec(
      "SELECT state, attempts, (extract(epoch FROM locked_until) * 1000000)::bigint FROM jobs");
  CHECK(locked.get(0, 0) == "running");
  CHECK(locked.get_int(0, 1) == 1);
  const long long locked_until_us = locked.get_int(0, 2);
  const auto killed_at = std::chrono::steady_clock::now();
  REQUIRE(kill(worker.pid, SIGKILL) == 0);
  CHECK(process::wait(worker, 10s) == 128 + SIGKILL);

  pg::Connection effects(url);
  ours->on("crashy", [&effects](const Job& job) -> JobOutcome {
    test::apply_effect(effects, job, "survivor");
    return {};
  });
  ours.start();
  // The dead worker's session ended, so its claim is void now, not when its visibility timeout
  // (60 s in the crash worker) passes.
  REQUIRE(test::eventually(
      [&] { return scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'done'") == 1; }, 10s));
  const auto recovered_in = std::chrono::steady_clock::now() - killed_at;
  std::cout << "pg_queue: a killed worker's job ran again and finished "
            << std::chrono::duration<double>(recovered_in).count() << " s after the kill\n";
  CHECK(recovered_in < 5s);
  const auto runs = conn.exec(
      "SELECT runner, attempt, (extract(epoch FROM started_at) * 1000000)::bigint FROM runs"
      " ORDER BY started_at");
  REQUIRE(runs.rows() == 2);
  CHECK(runs.get(0, 0) == "crash_worker");
  CHECK(runs.get(1, 0) == "survivor");
  CHECK(runs.get_int(1, 1) == 2);
  CHECK(runs.get_int(1, 2) < locked_until_us);  // long before the visibility timeout passed
  // Ran twice, took effect once.
  CHECK(scalar(conn, "SELECT count(*) FROM effects") == 1);
  CHECK(scalar(conn, "SELECT attempts FROM jobs") == 2);
  CHECK_THAT(std::string(conn.exec("SELECT last_error FROM jobs").get(0, 0)),
             Catch::Contains("its database session ended"));
}

TEST_CASE("a running job whose worker is gone is requeued, or dead after its last attempt") {
  const std::string url = migrated_database();
  pg::Connection conn(url);
  // A claimer that is alive (its session holds the claimer lock) and one that is gone.
  const std::string lock_class(plugins::pg_queue::kClaimerLockClass);
  const auto live_pid =
      conn.exec("SELECT pg_backend_pid(), pg_advisory_lock(" + lock_class + ", pg_backend_pid())")
          .get_int(0, 0);
  long long gone_pid = 0;
  {
    pg::Connection gone(url);
    gone_pid =
        gone.exec("SELECT pg_backend_pid(), pg_advisory_lock(" + lock_class + ", pg_backend_pid())")
            .get_int(0, 0);
  }
  REQUIRE(test::eventually([&] {
    return scalar(conn, "SELECT count(*) FROM pg_stat_activity WHERE pid = " +
                            std::to_string(gone_pid)) == 0;
  }));
  // As crashed or hung workers leave them: the visibility timeout passed ("again", "last"), or
  // the claimer's session ended ("orphan"). "held" (claimed before claimed_by existed) and
  // "owned" (a live claimer) are running within their timeout.
  conn.exec(
      "INSERT INTO jobs (kind, payload, state, attempts, locked_until, claimed_by) VALUES"
      " ('lost', '{\"tag\": \"again\"}', 'running', 1, now() - interval '1 second', NULL),"
      " ('lost', '{\"tag\": \"last\"}', 'running', 3, now() - interval '1 second', NULL),"
      " ('lost', '{\"tag\": \"held\"}', 'running', 1, now() + interval '1 hour', NULL),"
      " ('lost', '{\"tag\": \"orphan\"}', 'running', 1, now() + interval '1 hour', " +
      std::to_string(gone_pid) +
      "),"
      " ('lost', '{\"tag\": \"owned\"}', 'running', 1, now() + interval '1 hour', " +
      std::to_string(live_pid) + ")");
  Instance scheduler(url, {{"max_attempts", 3}});
  Recorder recorder;
  scheduler->on("lost", recorder.handler());
  scheduler.start();
  REQUIRE(test::eventually([&] { return recorder.size() == 2; }, 5s));
  REQUIRE(test::eventually([&] {
    return scalar(conn, "SELECT count(*) FROM jobs WHERE state IN ('done', 'dead')") == 3;
  }));
  std::set<std::string> ran;
  for (const auto& run : recorder.runs()) {
    ran.insert(run.tag);
    CHECK(run.attempt == 2);
  }
  CHECK(ran == std::set<std::string>{"again", "orphan"});
  const auto states = conn.exec(
      "SELECT payload->>'tag', state, coalesce(last_error, '') FROM jobs ORDER BY payload->>'tag'");
  REQUIRE(states.rows() == 5);
  CHECK(states.get(0, 0) == "again");
  CHECK(states.get(0, 1) == "done");
  CHECK_THAT(std::string(states.get(0, 2)), Catch::Contains("visibility timeout passed"));
  CHECK(states.get(1, 0) == "held");
  CHECK(states.get(1, 1) == "running");  // its worker may still be at it
  CHECK(states.get(2, 0) == "last");
  CHECK(states.get(2, 1) == "dead");
  CHECK(states.get(3, 0) == "orphan");
  CHECK(states.get(3, 1) == "done");
  CHECK_THAT(std::string(states.get(3, 2)), Catch::Contains("its database session ended"));
  CHECK(states.get(4, 0) == "owned");
  CHECK(states.get(4, 1) == "running");  // its claimer is alive
}

TEST_CASE("a live worker's job that runs past the visibility timeout is never run twice at once") {
  const std::string url = migrated_database();
  // 1 s visibility; the job takes 3.5 s, while another instance's workers poll for lost jobs.
  Instance a(url, {{"threads", 1}, {"visibility_timeout_s", 1}, {"poll_interval_ms", 50}});
  Instance b(url, {{"threads", 1}, {"visibility_timeout_s", 1}, {"poll_interval_ms", 50}});
  Recorder recorder;
  a->on("long", recorder.handler("a", 3500ms));
  b->on("long", recorder.handler("b", 3500ms));
  a.start();
  REQUIRE(a->enqueue({job("long", "l1")}) == 1);
  pg::Connection conn(url);
  REQUIRE(test::eventually(
      [&] { return scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'running'") == 1; }));
  b.start();
  REQUIRE(test::eventually(
      [&] { return scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'done'") == 1; }, 10s));
  // A second claim would have counted an attempt (and kept the first run's outcome from being
  // recorded); a second run, had one started, would have ended by now.
  std::this_thread::sleep_for(1500ms);
  const auto runs = recorder.runs();
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].runner == "a");
  CHECK(ms(runs[0].end - runs[0].start) >= 3500);
  CHECK(scalar(conn, "SELECT attempts FROM jobs") == 1);
}

TEST_CASE("two instances on one database never run a job at the same time") {
  const std::string url = migrated_database();
  Instance a(url, {{"threads", 2}});
  Instance b(url, {{"threads", 2}});
  Recorder recorder;
  a->on("work", recorder.handler("a", 2ms));
  b->on("work", recorder.handler("b", 2ms));
  a.start();
  b.start();
  constexpr int kJobs = 400;
  std::vector<NewJob> jobs;
  jobs.reserve(kJobs);
  for (int i = 0; i < kJobs; ++i) jobs.push_back(job("work", "w" + std::to_string(i)));
  // Half through each instance, so each wakes its own workers.
  REQUIRE(a->enqueue({jobs.begin(), jobs.begin() + kJobs / 2}) == kJobs / 2);
  REQUIRE(b->enqueue({jobs.begin() + kJobs / 2, jobs.end()}) == kJobs / 2);
  pg::Connection conn(url);
  REQUIRE(test::eventually(
      [&] { return scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'done'") == kJobs; },
      20s));
  std::map<std::string, std::vector<Run>> by_job;
  std::map<std::string, int> by_runner;
  for (const auto& run : recorder.runs()) {
    by_job[run.id].push_back(run);
    ++by_runner[run.runner];
  }
  CHECK(by_job.size() == kJobs);
  for (auto& [id, runs] : by_job) {
    INFO("job " << id);
    CHECK(runs.size() == 1);
    std::sort(runs.begin(), runs.end(),
              [](const Run& x, const Run& y) { return x.start < y.start; });
    for (std::size_t i = 1; i < runs.size(); ++i) CHECK(runs[i].start >= runs[i - 1].end);
  }
  CHECK(by_runner["a"] > 0);
  CHECK(by_runner["b"] > 0);
  CHECK(scalar(conn, "SELECT max(attempts) FROM jobs") == 1);
}

TEST_CASE("stop lets a worker finish the job in hand and returns its unstarted jobs") {
  const std::string url = migrated_database();
  Instance scheduler(url, {{"threads", 1}});
  std::atomic<int> started{0};
  scheduler->on("slow", [&](const Job&) -> JobOutcome {
    ++started;
    std::this_thread::sleep_for(300ms);
    return {};
  });
  scheduler.start();
  std::vector<NewJob> jobs;
  jobs.reserve(10);
  for (int i = 0; i < 10; ++i) jobs.push_back(job("slow", "s" + std::to_string(i)));
  REQUIRE(scheduler->enqueue(jobs) == 10);
  REQUIRE(test::eventually([&] { return started >= 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  scheduler.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  pg::Connection conn(url);
  const int ran = started;
  CHECK(scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'done'") == ran);
  CHECK(scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'running'") == 0);
  CHECK(scalar(conn, "SELECT count(*) FROM jobs WHERE state = 'queued' AND attempts = 0") ==
        10 - ran);
}

TEST_CASE("cleanup deletes done jobs past their retention, in bounded batches") {
  const std::string url = migrated_database();
  pg::Connection conn(url);
  conn.exec(
      "INSERT INTO jobs (kind, state, attempts, finished_at)"
      " SELECT 'old', 'done', 1, now() - interval '2 hours' FROM generate_series(1, 2500);"
      "INSERT INTO jobs (kind, state, attempts, finished_at)"
      " SELECT 'recent', 'done', 1, now() - interval '1 minute' FROM generate_series(1, 10);"
      "INSERT INTO jobs (kind, state, attempts, finished_at, last_error)"
      " SELECT 'letter', 'dead', 8, now() - interval '2 hours', 'x' FROM generate_series(1, 5);"
      "INSERT INTO jobs (kind, run_at) SELECT 'future', now() + interval '1 day'"
      " FROM generate_series(1, 5)");
  Instance scheduler(url, {{"retention_s", 3600}});
  scheduler.start();  // no handlers: maintenance only
  REQUIRE(test::eventually(
      [&] { return scalar(conn, "SELECT count(*) FROM jobs WHERE kind = 'old'") == 0; }));
  CHECK(scalar(conn, "SELECT count(*) FROM jobs WHERE kind = 'recent'") == 10);
  CHECK(scalar(conn, "SELECT count(*) FROM jobs WHERE kind = 'letter'") == 5);
  CHECK(scalar(conn, "SELECT count(*) FROM jobs WHERE kind = 'future'") == 5);
  CHECK(scalar(conn, "SELECT count(*) FROM jobs") == 20);
}

TEST_CASE("health reflects the database") {
  Instance down("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", nlohmann::json::object());
  const auto health = down.health();
  REQUIRE(health.size() == 1);
  CHECK_FALSE(health[0].ok);
  CHECK_THAT(health[0].detail, Catch::Contains("cannot connect"));
}
