// What /metrics tells an operator, read from the real `flashsale serve` against a real
// PostgreSQL: the process metrics agree with /proc, the build names its revision, each plugin's
// health is a gauge, connections and the worker queue are sampled at each scrape, the job queue
// shows due, late and dead jobs per kind, and the replication slot's WAL reserve is visible down
// to its invalidation.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <flashsale/pg/connection.hpp>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/api_client.hpp"
#include "support/scrape.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"
#include "support/ws_client.hpp"

using namespace flashsale;
using namespace flashsale::test;

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The "Max open files" soft limit of process `pid`, from /proc/<pid>/limits.
double max_open_files(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Max open files", 0) == 0) {
      return std::stod(line.substr(std::string("Max open files").size()));
    }
  }
  throw std::runtime_error("no 'Max open files' in /proc/" + std::to_string(pid) + "/limits");
}

// The CPU time of process `pid` so far (utime + stime, from /proc/<pid>/stat), in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  const std::string stat{std::istreambuf_iterator<char>(in), {}};
  // The fields after the command name, which is in parentheses and may hold spaces: the first
  // of them is field 3 (the state); utime and stime are fields 14 and 15.
  std::istringstream rest(stat.substr(stat.rfind(')') + 1));
  const std::vector<std::string> fields{std::istream_iterator<std::string>(rest), {}};
  return (std::stod(fields.at(11)) + std::stod(fields.at(12))) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The value of a sample, waiting (up to `timeout`) until `accept` takes it.
std::optional<double> eventually_value(
    std::uint16_t port, const std::string& name, const std::map<std::string, std::string>& labels,
    const std::function<bool(double)>& accept,
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  std::optional<double> value;
  eventually(
      [&] {
        value = sample_value(scrape(port), name, labels);
        return value && accept(*value);
      },
      timeout);
  return value;
}

const std::string kGated =
    std::string(FLASHSALE_FIXTURE_DIR) + "/flashsale_fixture_gated_consumer.so";
const std::string kStartThrows =
    std::string(FLASHSALE_FIXTURE_DIR) + "/flashsale_fixture_start_throws.so";

}  // namespace

TEST_CASE("the process metrics agree with /proc") {
  const double before = now_seconds();
  ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_URL=" + fresh_database()});
  REQUIRE(service.wait_listening());
  const double after = now_seconds();
  const double cpu_before = cpu_seconds(service.pid());
  const auto samples = scrape(service.public_port);
  const double cpu_after = cpu_seconds(service.pid());
  const auto value = [&](const std::string& name) {
    const auto v = sample_value(samples, name);
    INFO(name);
    REQUIRE(v);
    return *v;
  };
  // What /proc said just before and just after the scrape (a fast start may take less than one
  // clock tick of CPU, so 0 is a possible value).
  CHECK(value("process_cpu_seconds_total") >= cpu_before);
  CHECK(value("process_cpu_seconds_total") <= cpu_after);
  CHECK(value("process_resident_memory_bytes") > 1 << 20);
  CHECK(value("process_virtual_memory_bytes") > value("process_resident_memory_bytes"));
  // The clock ticks of /proc round the start down by up to 10 ms.
  CHECK(value("process_start_time_seconds") >= before - 1);
  CHECK(value("process_start_time_seconds") <= after);
  // The service raised its soft limit at start; the metric is the raised one.
  CHECK(value("process_max_fds") == max_open_files(service.pid()));
  // Counted while the scrape's connection was open; no other client is connected.
  const auto fds = static_cast<double>(std::distance(
      std::filesystem::directory_iterator("/proc/" + std::to_string(service.pid()) + "/fd"),
      std::filesystem::directory_iterator{}));
  CHECK(value("process_open_fds") == Approx(fds + 1).margin(3));
  // CPU time only grows.
  CHECK(*sample_value(scrape(service.public_port), "process_cpu_seconds_total") >=
        value("process_cpu_seconds_total"));
}

TEST_CASE("flashsale_build_info names the git revision; each plugin's health is a gauge") {
  ServiceProcess service({"serve"},
                         {"FLASHSALE_DATABASE_URL=" + fresh_database(),
                          R"(FLASHSALE_PLUGINS_LOAD=[{"file": "flashsale_storage_postgres"},
                               {"file": "flashsale_event_source_pg_wal"},
                               {"file": "flashsale_scheduler_pg_queue"},
                               {"file": "flashsale_push_websocket"},
                               {"file": ")" +
                              kStartThrows + R"(", "required": false}])"});
  REQUIRE(service.wait_listening());
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  const auto samples = scrape(service.admin_port);
  std::string revision;
  for (const auto& s : samples) {
    if (s.name == "flashsale_build_info") revision = s.labels.at("revision");
  }
  CHECK(std::regex_match(revision, std::regex("[0-9a-f]{7,40}|unknown")));
  for (const auto& [name, kind] :
       std::vector<std::pair<std::string, std::string>>{{"postgres", "storage"},
                                                        {"pg_wal", "event_source"},
                                                        {"pg_queue", "scheduler"},
                                                        {"websocket", "push"}}) {
    INFO(name);
    CHECK(eventually_value(service.admin_port, "flashsale_plugin_health",
                           {{"name", name}, {"kind", kind}}, [](double v) { return v == 1; }) == 1);
  }
  // Loaded, but its start() failed: the service runs on without it, and says so here too.
  CHECK(eventually_value(service.admin_port, "flashsale_plugin_health",
                         {{"name", "start_throws"}, {"kind", "push"}},
                         [](double) { return true; }) == 0);
}

TEST_CASE("open connections per listener and the worker queue are read at each scrape") {
  ServiceProcess service(
      {"serve"}, {"FLASHSALE_DATABASE_URL=" + fresh_database(),
                  "FLASHSALE_HTTP_MAX_CONNECTIONS=300", "FLASHSALE_WORKERS_QUEUE_LIMIT=500"});
  REQUIRE(service.wait_listening());
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  const auto P = service.public_port;
  const auto A = service.admin_port;
  // Nobody is connected to the public listener (the readiness checks' connections close).
  CHECK(eventually_value(A, "flashsale_http_connections", {{"listener", "public"}},
                         [](double v) { return v == 0; }) == 0);
  // The scrape's own connection; the ones before it may take a moment to close.
  CHECK(eventually_value(A, "flashsale_http_connections", {{"listener", "admin"}},
                         [](double v) { return v == 1; }) == 1);
  {
    std::vector<std::unique_ptr<WsClient>> clients;
    clients.reserve(3);
    for (int i = 0; i < 3; ++i) {
      clients.push_back(std::make_unique<WsClient>(
          P, "/v1/stream", Headers{{"X-User-Id", "conn-" + std::to_string(i)}}));
    }
    CHECK(eventually_value(A, "flashsale_http_connections", {{"listener", "public"}},
                           [](double v) { return v == 3; }) == 3);
    // Three WebSockets and the scrape.
    CHECK(sample_value(scrape(P), "flashsale_http_connections", {{"listener", "public"}}) == 4);
  }
  CHECK(eventually_value(A, "flashsale_http_connections", {{"listener", "public"}},
                         [](double v) { return v == 0; }) == 0);
  const auto samples = scrape(A);
  // 300 fits any descriptor limit above 556 (256 kept back, and the admin listener's share).
  CHECK(sample_value(samples, "flashsale_http_max_connections", {{"listener", "public"}}) == 300);
  CHECK(sample_value(samples, "flashsale_http_max_connections", {{"listener", "admin"}}) > 0);
  CHECK(sample_value(samples, "flashsale_worker_queue_length") == 0);
  CHECK(sample_value(samples, "flashsale_worker_queue_limit") == 500);
}

TEST_CASE("the job queue shows due jobs, the oldest one's age and dead jobs, per kind") {
  const std::string url = fresh_database();
  // Payment links fail at once and for good: their first attempt is the last.
  ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_URL=" + url,
                                     "FLASHSALE_PAYMENTS_PROVIDER_URL=http://127.0.0.1:1/nowhere",
                                     "FLASHSALE_PAYMENTS_PROVIDER_TIMEOUT_MS=500",
                                     R"(FLASHSALE_PLUGIN={"pg_queue": {"max_attempts": 1}})"});
  REQUIRE(service.wait_listening());
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  const auto A = service.admin_port;
  // Every handled kind has its series from the start.
  const auto initial = scrape(A);
  for (const char* name :
       {"flashsale_job_queue_due", "flashsale_job_oldest_due_age_seconds", "flashsale_job_dead"}) {
    INFO(name);
    CHECK(sample_value(initial, name, {{"kind", "make_payment_link"}}) == 0);
  }

  create_item(A, {{"id", "dead-link"}, {"name", "Dead link"}, {"total_stock", 1}});
  REQUIRE(place(service.public_port, "dl", "dead-link", "k").status == 202);
  CHECK(eventually_value(
            A, "flashsale_job_dead", {{"kind", "make_payment_link"}},
            [](double v) { return v == 1; }, std::chrono::seconds(20)) == 1);

  // A kind nobody handles stays queued: one job due since 2020 but enqueued 30 s ago (it is
  // 30 s late, not years), and one due in an hour.
  pg::Connection(url).exec(
      "INSERT INTO jobs (kind, run_at, created_at) VALUES"
      " ('orphan', '2020-01-01T00:00:00Z', now() - interval '30 seconds'),"
      " ('orphan', now() + interval '1 hour', now())");
  CHECK(eventually_value(A, "flashsale_job_queue_depth", {{"kind", "orphan"}},
                         [](double v) { return v == 2; }) == 2);
  const auto samples = scrape(A);
  CHECK(sample_value(samples, "flashsale_job_queue_due", {{"kind", "orphan"}}) == 1);
  const auto age =
      sample_value(samples, "flashsale_job_oldest_due_age_seconds", {{"kind", "orphan"}});
  REQUIRE(age);
  CHECK(*age >= 30);
  CHECK(*age < 60);
  CHECK(sample_value(samples, "flashsale_job_queue_due", {{"kind", "expire_leases"}}) == 0);
  // Retried by an operator, the dead job leaves the count (and dies again).
  const auto dead = http_request(A, "GET", "/admin/jobs?state=dead").json()["jobs"];
  REQUIRE(dead.size() == 1);
  CHECK(http_request(A, "POST", "/admin/jobs/" + dead[0]["id"].get<std::string>() + "/retry")
            .status == 200);
  CHECK(eventually_value(A, "flashsale_jobs_total",
                         {{"kind", "make_payment_link"}, {"outcome", "dead"}},
                         [](double v) { return v == 2; }) == 2);
}

TEST_CASE("the item gauges show the units free, the waiting line and the leases held") {
  ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_URL=" + fresh_database()});
  REQUIRE(service.wait_listening());
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  const auto P = service.public_port;
  const auto A = service.admin_port;
  create_item(A, {{"id", "gauged"}, {"name", "Gauged"}, {"total_stock", 3}});
  std::vector<std::string> orders;  // three reserved, then two waiting
  for (int i = 0; i < 5; ++i) {
    const auto placed = place(P, "g" + std::to_string(i), "gauged", "k");
    REQUIRE(placed.status == 202);
    orders.push_back(placed.json()["id"]);
  }
  // One unit is sold (no longer held); one comes back and goes to the head of the line.
  REQUIRE(http_request(
              P, "POST", "/v1/payments/webhook",
              nlohmann::json{
                  {"event_id", "gauged-pay"}, {"order_id", orders[0]}, {"outcome", "succeeded"}}
                  .dump())
              .status == 200);
  REQUIRE(cancel(P, "g1", orders[1]).status == 200);
  const std::map<std::string, std::string> item = {{"item", "gauged"}};
  CHECK(eventually_value(A, "flashsale_item_waiting", item, [](double v) { return v == 1; }) == 1);
  const auto samples = scrape(A);
  CHECK(sample_value(samples, "flashsale_item_available", item) == 0);
  CHECK(sample_value(samples, "flashsale_item_leases", item) == 2);
}

TEST_CASE("every database session of the service names its node and component") {
  const std::string url = fresh_database();
  ServiceProcess service({"serve"},
                         {"FLASHSALE_DATABASE_URL=" + url, "FLASHSALE_CLUSTER_NODE_ID=n7"});
  REQUIRE(service.wait_listening());
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  // A placement, its payment-link job and its events: every plugin has used its connections.
  create_item(service.admin_port, {{"id", "named"}, {"name", "Named"}, {"total_stock", 1}});
  REQUIRE(place(service.public_port, "u", "named", "k").status == 202);
  pg::Connection sql(url);
  const auto sessions = [&] {
    return sql.exec(
        "SELECT application_name, backend_type FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY 1");
  };
  // The storage, the CDC stream (a walsender) and the job queue's API and workers.
  REQUIRE(eventually([&] { return sessions().rows() >= 4; }, std::chrono::seconds(10)));
  const auto rows = sessions();
  std::set<std::string> components;
  for (int i = 0; i < rows.rows(); ++i) {
    const std::string name(rows.get(i, 0));
    INFO(name << " (" << rows.get(i, 1) << ")");
    CHECK(name.rfind("flashsale/n7/", 0) == 0);
    components.insert(name.substr(std::string("flashsale/n7/").size()));
  }
  CHECK(components == std::set<std::string>{"pg_queue", "pg_wal", "postgres"});
}

TEST_CASE("the slot's wal_status and safe_wal_size follow PostgreSQL down to an invalidated slot") {
  const std::string url = fresh_database();
  pg::Connection sql(url);
  const auto gate = temp_dir() / "gate";
  ServiceProcess service({"serve"},
                         {"FLASHSALE_DATABASE_URL=" + url,
                          R"(FLASHSALE_PLUGINS_LOAD=[{"file": "flashsale_storage_postgres"},
          {"file": "flashsale_event_source_pg_wal"}, {"file": ")" +
                              kGated + R"("}])",
                          R"(FLASHSALE_PLUGIN={"pg_wal": {"status_interval_ms": 100},
                            "gated": {"gate_file": ")" +
                              gate.string() + R"("}})"});
  REQUIRE(service.wait_listening());
  REQUIRE(eventually([&] { return ready(service); }, std::chrono::seconds(30)));
  const auto A = service.admin_port;
  const std::map<std::string, std::string> reserved{{"status", "reserved"}};
  const std::map<std::string, std::string> unreserved{{"status", "unreserved"}};
  const std::map<std::string, std::string> lost{{"status", "lost"}};
  CHECK(eventually_value(A, "flashsale_cdc_slot_wal_status", reserved,
                         [](double v) { return v == 1; }) == 1);
  CHECK(eventually_value(A, "flashsale_plugin_health", {{"name", "pg_wal"}},
                         [](double v) { return v == 1; }) == 1);
  // The test cluster keeps 1 GB for a slot (max_slot_wal_keep_size), counted from the start of
  // the slot's oldest WAL segment (16 MB).
  const auto safe = sample_value(scrape(A), "flashsale_cdc_slot_safe_wal_size_bytes");
  REQUIRE(safe);
  CHECK(*safe > 1000e6);
  CHECK(*safe <= (1024.0 + 16) * 1024 * 1024);

  // A consumer stops acknowledging while WAL grows past a smaller reserve.
  struct Reserve {  // this binary's cluster is its own; put the reserve back for the next test
    pg::Connection& sql;
    ~Reserve() {
      sql.exec("ALTER SYSTEM RESET max_slot_wal_keep_size");
      sql.exec("SELECT pg_reload_conf()");
    }
  } restore{sql};
  sql.exec("ALTER SYSTEM SET max_slot_wal_keep_size = '64MB'");
  sql.exec("SELECT pg_reload_conf()");
  std::ofstream(gate) << "closed";
  create_item(A, {{"id", "held"}, {"name", "Held"}, {"total_stock", 1}});
  sql.exec(
      "CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 32) AS pad"
      " FROM generate_series(1, 100000) g");
  sql.exec("SELECT pg_switch_wal()");
  CHECK(eventually_value(A, "flashsale_cdc_slot_wal_status", unreserved,
                         [](double v) { return v == 1; }) == 1);
  const auto samples = scrape(A);
  CHECK(sample_value(samples, "flashsale_cdc_slot_wal_status", reserved) == 0);
  const auto behind = sample_value(samples, "flashsale_cdc_slot_safe_wal_size_bytes");
  REQUIRE(behind);
  CHECK(*behind <= 0);
  CHECK(sample_value(samples, "flashsale_plugin_health", {{"name", "pg_wal"}}) == 1);

  // The next checkpoint removes the WAL the slot needs: PostgreSQL invalidates it.
  sql.exec("CHECKPOINT");
  CHECK(eventually_value(A, "flashsale_cdc_slot_wal_status", lost,
                         [](double v) { return v == 1; }) == 1);
  CHECK(eventually_value(A, "flashsale_plugin_health", {{"name", "pg_wal"}},
                         [](double v) { return v == 0; }) == 0);
  CHECK(sample_value(scrape(A), "flashsale_cdc_slot_wal_status", unreserved) == 0);
  CHECK(std::isnan(*sample_value(scrape(A), "flashsale_cdc_slot_safe_wal_size_bytes")));
  CHECK_THAT(service.log(), Catch::Contains("was invalidated"));
  std::filesystem::remove(gate);
}
