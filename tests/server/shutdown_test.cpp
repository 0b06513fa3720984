// Shutdown in phases: the service stops within shutdown.grace_ms even when the database is gone
// and the event bus is full, so the event source is blocked handing over a transaction (before
// the phases, its stop waited on that hand-over for ever).
#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <flashsale/pg/connection.hpp>
#include <regex>
#include <thread>

#include "embedded_postgres.hpp"
#include "support/http_client.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale;
using namespace std::chrono_literals;

namespace {

// flashsale_cdc_events_total{type="item.created"}, or -1.
long long items_decoded(std::uint16_t port) {
  try {
    static const std::regex line(R"re(flashsale_cdc_events_total\{type="item.created"\} (\d+))re");
    std::smatch m;
    const std::string text = test::http_request(port, "GET", "/metrics").body;
    return std::regex_search(text, m, line) ? std::stoll(m[1]) : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

TEST_CASE("the service stops within the grace period with the database down and the bus full") {
  EmbeddedPostgres pg({test::temp_dir() / "pg", {}});
  test::ServiceProcess service(
      {"serve"}, {"FLASHSALE_DATABASE_URL=" + pg.url(), "FLASHSALE_SHUTDOWN_GRACE_MS=4000"});
  REQUIRE(service.wait_listening());
  REQUIRE(test::eventually(
      [&] { return test::http_request(service.public_port, "GET", "/readyz").status == 200; },
      30s));

  // The job planner can no longer enqueue: its queue fills, and then the bus is full.
  pg::Connection sql(pg.url());
  sql.exec("ALTER TABLE jobs RENAME TO jobs_gone");
  constexpr int kItems = 1200;  // more transactions than a consumer's queue holds (1024)
  for (int i = 0; i < kItems; ++i) {
    sql.exec(
        "INSERT INTO items (id, name, total_stock, available, closes_at)"
        " VALUES ($1, 'Full', 1, 1, now() + interval '1 hour')",
        {"full-" + std::to_string(i)});
  }
  // The source is blocked once the decoded count stops short of every item.
  long long decoded = -1;
  REQUIRE(test::eventually(
      [&] {
        const long long before = items_decoded(service.admin_port);
        std::this_thread::sleep_for(500ms);
        decoded = items_decoded(service.admin_port);
        return decoded > 1000 && decoded == before;
      },
      60s));
  INFO("item.created decoded before the source blocked: " << decoded);
  CHECK(decoded < kItems);
  CHECK_THAT(service.log(), Catch::Contains("consumer 'job_planner' failed"));

  pg.kill_now();  // the database goes away (immediate shutdown)
  std::this_thread::sleep_for(200ms);
  const auto asked = std::chrono::steady_clock::now();
  service.signal(SIGTERM);
  const auto code = service.wait_exit(15s);
  const auto took = std::chrono::steady_clock::now() - asked;
  INFO(service.log());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(took < 4000ms);
  CHECK_THAT(service.log(), Catch::Contains("INFO  host: stopped"));
}

TEST_CASE("the service stops at once with many idle keep-alive connections") {
  // Idle sessions are closed on the listeners' threads while the shutdown still walks them; one
  // whose last reference the walk held unregistered itself under the lock the walk held (a
  // deadlock the watchdog ended after shutdown.grace_ms + 5 s).
  const auto service =
      test::start_replica(test::fresh_database(), "idle-keepalive", {"FLASHSALE_HTTP_THREADS=4"});
  namespace net = boost::asio;
  net::io_context io;
  std::vector<net::ip::tcp::socket> idle;
  for (int i = 0; i < 300; ++i) {
    auto& s = idle.emplace_back(io);
    s.connect({net::ip::make_address("127.0.0.1"),
               i % 2 == 0 ? service->admin_port : service->public_port});
    net::write(s, net::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")));
    net::streambuf answer;
    net::read_until(s, answer, "\r\n\r\n");  // answered, and kept open
  }
  const auto asked = std::chrono::steady_clock::now();
  service->signal(SIGTERM);
  const auto code = service->wait_exit(20s);
  const auto took = std::chrono::steady_clock::now() - asked;
  INFO(service->log());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(took < 4000ms);
}
