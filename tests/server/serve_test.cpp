// The real `flashsale serve` binary: start-up on the embedded default, readiness, metrics
// accepted by promtool, plugin refusal exit codes, config errors, and clean SIGTERM shutdown.
#include <signal.h>

#include <catch2/catch.hpp>
#include <flashsale/sdk/plugin.hpp>
#include <fstream>

#include "process.hpp"
#include "support/api_client.hpp"
#include "support/http_client.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale;
using test::http_request;
using test::ServiceProcess;

namespace {

const std::string kAbiFixture =
    std::string(FLASHSALE_FIXTURE_DIR) + "/flashsale_fixture_abi_mismatch.so";

}  // namespace

TEST_CASE("with no database configured, serve starts its own PostgreSQL and gets ready") {
  const auto dir = test::temp_dir() / "pg";
  ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_EMBEDDED_DIR=" + dir.string()});
  REQUIRE(service.wait_listening());
  CHECK(test::eventually([&] { return test::ready(service); }, std::chrono::seconds(30)));
  const auto readyz = http_request(service.public_port, "GET", "/readyz").json();
  CHECK(readyz["status"] == "ready");
  CHECK(readyz["plugins"][0]["name"] == "postgres");
  CHECK(std::filesystem::exists(dir / "PG_VERSION"));

  service.signal(SIGTERM);
  CHECK(service.wait_exit() == 0);
  INFO(service.log());
  CHECK_THAT(service.log(),
             Catch::Contains("draining") && Catch::Contains("embedded PostgreSQL: stopped"));
}

TEST_CASE("/metrics passes promtool and carries the build and plugin info") {
  ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_URL=" + test::fresh_database()});
  REQUIRE(service.wait_listening());
  http_request(service.public_port, "GET", "/healthz");
  // A request is counted once its answer is written, which can be just after the client read it;
  // its latency and its count are two metrics, so wait for the one checked below (the latency
  // histogram's count line also ends in route="/healthz"} 1).
  const std::string counted =
      R"(flashsale_http_requests_total{code="200",listener="public",method="GET",route="/healthz"} 1)";
  test::HttpResult metrics;
  CHECK(test::eventually([&] {
    metrics = http_request(service.public_port, "GET", "/metrics");
    return metrics.body.find(counted) != std::string::npos;
  }));
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.headers["content-type"], Catch::StartsWith("text/plain; version=0.0.4"));
  CHECK_THAT(metrics.body, Catch::Contains("flashsale_build_info{"));
  CHECK_THAT(metrics.body,
             Catch::Contains(R"(flashsale_plugin_info{kind="storage",name="postgres",version=)"));
  CHECK_THAT(metrics.body, Catch::Contains(counted));

  const auto file = test::temp_dir() / "metrics.txt";
  std::ofstream(file) << metrics.body;
  std::string output;
  const int code = process::run({"sh", "-c", "promtool check metrics < " + file.string()}, output);
  INFO(output);
  CHECK(code == 0);
  CHECK_THAT(service.log(), !Catch::Contains(" access: "));  // off by default
}

TEST_CASE("with log.access, each answered request is a line: route, status, user, request id") {
  ServiceProcess service(
      {"serve"}, {"FLASHSALE_DATABASE_URL=" + test::fresh_database(), "FLASHSALE_LOG_ACCESS=true"});
  REQUIRE(service.wait_listening());
  REQUIRE(test::eventually([&] { return test::ready(service); }, std::chrono::seconds(30)));
  const auto r =
      http_request(service.public_port, "GET", "/v1/orders/0b7c1d36-8a9e-4f2c-9d3e-1a2b3c4d5e6f",
                   "", {{"X-User-Id", "alice"}, {"X-Request-Id", "req-42"}});
  CHECK(r.status == 404);
  CHECK(r.headers.at("x-request-id") == "req-42");
  http_request(service.admin_port, "GET", "/admin/items");
  // The line is written once the answer is: just after the client may have read it.
  CHECK(test::eventually([&] {
    const std::string log = service.log();
    return log.find("access: public GET /v1/orders/{id} 404 ") != std::string::npos &&
           log.find("access: admin GET /admin/items 200 ") != std::string::npos;
  }));
  INFO(service.log());
  CHECK_THAT(service.log(), Catch::Contains(" ms user=alice request=req-42"));
  CHECK_THAT(service.log(), Catch::Contains("access: admin GET /admin/items 200 "));
  CHECK_THAT(service.log(), !Catch::Contains("0b7c1d36"));  // the pattern, never the raw path
}

TEST_CASE("log.level=debug follows an order: its batch, its transaction, its job") {
  ServiceProcess service(
      {"serve"}, {"FLASHSALE_DATABASE_URL=" + test::fresh_database(), "FLASHSALE_LOG_LEVEL=debug"});
  REQUIRE(service.wait_listening());
  REQUIRE(test::eventually([&] { return test::ready(service); }, std::chrono::seconds(30)));
  test::create_item(service.admin_port, {{"id", "dbg"}, {"name", "Debug"}, {"total_stock", 1}});
  REQUIRE(test::place(service.public_port, "alice", "dbg", "k1").status == 202);
  CHECK(test::eventually(
      [&] {
        return service.log().find("): done in ") != std::string::npos;  // the payment link's job
      },
      std::chrono::seconds(30)));
  INFO(service.log());
  const std::string log = service.log();
  CHECK_THAT(log, Catch::Contains("DEBUG postgres: placed a batch of 1 for dbg (attempt 1): "
                                  "reserved 1"));
  CHECK_THAT(log, Catch::Contains("events (order.reserved,inventory.changed)"));
  CHECK_THAT(log, Catch::Contains("(make_payment_link, attempt 1): done in "));
}

TEST_CASE("the admin listener lists plugins; the public one does not") {
  ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_URL=" + test::fresh_database()});
  REQUIRE(service.wait_listening());
  const auto plugins = http_request(service.admin_port, "GET", "/admin/plugins");
  CHECK(plugins.status == 200);
  const auto list = plugins.json()["plugins"];
  REQUIRE(list.size() == 4);
  CHECK(list[0]["kind"] == "storage");
  CHECK(list[0]["health"]["ok"] == true);
  CHECK(list[1]["kind"] == "event_source");
  CHECK(list[1]["name"] == "pg_wal");
  CHECK(list[2]["kind"] == "scheduler");
  CHECK(list[2]["name"] == "pg_queue");
  CHECK(list[3]["kind"] == "push");
  CHECK(list[3]["name"] == "websocket");
  CHECK(http_request(service.public_port, "GET", "/admin/plugins").status == 404);
}

TEST_CASE("an optional plugin with another ABI is refused and the server runs on") {
  ServiceProcess service({"serve"},
                         {"FLASHSALE_DATABASE_URL=" + test::fresh_database(),
                          R"(FLASHSALE_PLUGINS_LOAD=[{"file": "flashsale_storage_postgres"},
                                  {"file": ")" +
                              kAbiFixture + R"(", "required": false},
                                  {"file": "flashsale_push_log", "required": false}])"});
  REQUIRE(service.wait_listening());
  CHECK(test::ready(service));
  CHECK_THAT(service.log(), Catch::Contains("plugin " + kAbiFixture +
                                            " refused: ABI mismatch: built for SDK ABI " +
                                            std::to_string(sdk::kAbiVersion + 1)));
  CHECK(http_request(service.admin_port, "GET", "/admin/plugins").json()["plugins"].size() == 2);
}

TEST_CASE("a required plugin with another ABI stops start-up with exit code 2") {
  ServiceProcess service({"serve"},
                         {"FLASHSALE_DATABASE_URL=" + test::fresh_database(),
                          R"(FLASHSALE_PLUGINS_LOAD=[{"file": ")" + kAbiFixture + R"("}])"});
  CHECK(service.wait_exit() == 2);
  const std::string log = service.log();
  INFO(log);
  CHECK_THAT(log, Catch::Contains("ERROR host: plugin " + kAbiFixture +
                                  " refused: ABI mismatch: built for SDK ABI " +
                                  std::to_string(sdk::kAbiVersion + 1) + ", this host speaks ABI " +
                                  std::to_string(sdk::kAbiVersion) +
                                  " (rebuild the plugin against this SDK)\n"));
  CHECK(log.find("listening:") == std::string::npos);
}

TEST_CASE("an optional plugin whose start() fails is left out in one line; a required one stops") {
  const std::string fixture =
      std::string(FLASHSALE_FIXTURE_DIR) + "/flashsale_fixture_start_throws.so";
  const std::string failure =
      "plugin " + fixture + " failed to start: cannot reach the push backend";
  const std::string plugins = R"(FLASHSALE_PLUGINS_LOAD=[{"file": "flashsale_storage_postgres"},
                                  {"file": ")" +
                              fixture;
  {
    ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_URL=" + test::fresh_database(),
                                       plugins + R"(", "required": false}])"});
    REQUIRE(service.wait_listening());
    CHECK(test::ready(service));
    CHECK_THAT(service.log(),
               Catch::Contains("WARN  host: " + failure + " (optional: continuing without it)\n"));
    const auto list = http_request(service.admin_port, "GET", "/admin/plugins").json()["plugins"];
    REQUIRE(list.size() == 2);
    CHECK(list[1]["name"] == "start_throws");
    CHECK(list[1]["health"]["ok"] == false);
    CHECK(list[1]["health"]["detail"] == "failed to start: cannot reach the push backend");
    service.signal(SIGTERM);
    CHECK(service.wait_exit() == 0);
  }
  ServiceProcess service({"serve"},
                         {"FLASHSALE_DATABASE_URL=" + test::fresh_database(), plugins + R"("}])"});
  CHECK(service.wait_exit() == 2);
  CHECK_THAT(service.log(), Catch::Contains("ERROR host: " + failure + "\n"));
  CHECK(service.log().find("listening:") == std::string::npos);
}

TEST_CASE("the usage, for --help on the binary or any command, exits 0") {
  const std::vector<std::vector<std::string>> commands{
      {"--help"},           {"serve", "--help"},          {"migrate", "-h"},
      {"stream", "--help"}, {"events", "tail", "--help"}, {"check-plugin", "--help"}};
  for (const auto& args : commands) {
    std::string output;
    std::vector<std::string> argv{FLASHSALE_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    INFO(process::describe(argv));
    CHECK(process::run(argv, output) == 0);
    CHECK_THAT(output, Catch::StartsWith("usage: flashsale <command>"));
  }
  std::string output;
  CHECK(process::run({FLASHSALE_BIN, "serve", "--bogus"}, output) == 2);
}

TEST_CASE("events tail: bad usage exits 2, an unreachable NATS 1, each in a line that says why") {
  std::string output;
  CHECK(process::run({FLASHSALE_BIN, "events", "follow"}, output) == 2);
  CHECK_THAT(output, Catch::StartsWith("flashsale: events: the command is 'events tail'"));
  CHECK(process::run({FLASHSALE_BIN, "events", "tail", "--since", "yesterday"}, output) == 2);
  CHECK_THAT(output, Catch::StartsWith("flashsale: events tail: --since needs a positive number"));
  // Port 1 on loopback: nothing listens there.
  CHECK(process::run({FLASHSALE_BIN, "events", "tail", "--servers", "nats://127.0.0.1:1"},
                     output) == 1);
  CHECK_THAT(output,
             Catch::StartsWith("flashsale events: ") && Catch::Contains("nats://127.0.0.1:1"));
}

TEST_CASE("a plugin setting from its own variable is checked by the plugin; a stray one stops") {
  ServiceProcess bad_value({"serve"}, {"FLASHSALE_DATABASE_URL=" + test::fresh_database(),
                                       "FLASHSALE_PLUGIN_POSTGRES_POOL_SIZE=lots"});
  CHECK(bad_value.wait_exit() == 2);
  CHECK_THAT(bad_value.log(),
             Catch::Contains("factory threw: plugin.postgres.pool_size must be an integer"));
  ServiceProcess stray({"serve"}, {"FLASHSALE_DATABASE_URL=" + test::fresh_database(),
                                   "FLASHSALE_PLUGIN_POSTGRESS_POOL_SIZE=4"});
  CHECK(stray.wait_exit() == 2);
  CHECK_THAT(stray.log(), Catch::Contains("environment: FLASHSALE_PLUGIN_POSTGRESS_POOL_SIZE names "
                                          "no loaded plugin's setting"));
}

TEST_CASE("configuration errors stop start-up with exit code 2 and a clear line") {
  ServiceProcess bad_env({"serve"}, {"FLASHSALE_HTTP_THREADS=lots"});
  CHECK(bad_env.wait_exit() == 2);
  CHECK_THAT(bad_env.log(), Catch::Contains("config error: environment FLASHSALE_HTTP_THREADS: "
                                            "'lots' is not an integer"));
  ServiceProcess bad_file({"serve", "--config", "/nonexistent.json"}, {});
  CHECK(bad_file.wait_exit() == 2);
  CHECK_THAT(bad_file.log(), Catch::Contains("/nonexistent.json: cannot be read"));
  ServiceProcess bad_command({"frobnicate"}, {});
  CHECK(bad_command.wait_exit() == 2);
  CHECK_THAT(bad_command.log(), Catch::Contains("unknown command 'frobnicate'"));
}

TEST_CASE("an unreachable database is a clear start-up failure, not a crash") {
  ServiceProcess service(
      {"serve"}, {"FLASHSALE_DATABASE_URL=postgresql://x@127.0.0.1:1/none?connect_timeout=2"});
  CHECK(service.wait_exit() == 1);
  CHECK_THAT(service.log(), Catch::Contains("cannot connect to PostgreSQL"));
}
