// Running out of file descriptors (issue 13): with systemd's default limit of 1024 and 2,000
// connections that send nothing, the service used to fail every accept ("Too many open files"),
// so orders, /healthz and the admin listener timed out and jobs failed. Now it raises its soft
// limit, caps each listener to what the descriptors allow, and keeps the admin listener reachable.
#include <sys/resource.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <iostream>
#include <thread>

#include "support/api_client.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"

using namespace flashsale;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

std::size_t open_descriptors(pid_t pid) {
  const auto dir = std::filesystem::path("/proc") / std::to_string(pid) / "fd";
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

}  // namespace

TEST_CASE("at a 1024 descriptor limit, 2,000 idle connections leave the service answering") {
  constexpr std::size_t kIdle = 2000;
  // This process holds the idle connections: it needs more than 2,000 descriptors itself.
  rlimit own{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &own) == 0);
  REQUIRE(own.rlim_max >= kIdle + 200);
  own.rlim_cur = own.rlim_max;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &own) == 0);

  const std::string url = test::fresh_database();
  // Hard limit 1024 (systemd's default soft limit), soft 512: the service raises it to 1024.
  test::ServiceProcess service(
      {"serve"},
      {"FLASHSALE_DATABASE_URL=" + url, "FLASHSALE_CLUSTER_NODE_ID=fd-limit",
       "FLASHSALE_PAYMENTS_WEBHOOK_SECRET=fd-limit-secret"},
      {"/bin/sh", "-c", "ulimit -n 1024 && ulimit -S -n 512 && exec \"$@\"", "sh"});
  REQUIRE(service.wait_listening());
  REQUIRE(test::eventually([&] { return test::ready(service); }, 30s));
  CHECK_THAT(service.log(),
             Catch::Contains("file descriptor limit 1024 (raised from 512): http.max_connections "
                             "(10000) capped to 672 on the public listener and 96 on the admin "
                             "listener"));
  test::create_item(service.admin_port, {{"id", "fd-item"}, {"name", "FD"}, {"total_stock", 10}});

  net::io_context io;
  std::vector<net::ip::tcp::socket> idle;
  idle.reserve(kIdle);
  const net::ip::tcp::endpoint public_endpoint(net::ip::make_address("127.0.0.1"),
                                               service.public_port);
  for (std::size_t i = 0; i < kIdle; ++i) {
    idle.emplace_back(io);
    idle.back().connect(public_endpoint);
  }
  std::this_thread::sleep_for(1s);  // the service accepts what it will

  // The admin listener answers at once, the public one answers or closes at once (never hangs),
  // and the process stays under its limit.
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(test::http_request(service.admin_port, "GET", "/readyz").status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    const auto t1 = std::chrono::steady_clock::now();
    const std::string answer = test::raw_exchange(
        service.public_port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5s);
    CHECK(std::chrono::steady_clock::now() - t1 < 3s);
    if (!answer.empty()) {
      CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 503"));
      CHECK_THAT(answer, Catch::Contains("Retry-After: 1"));
      CHECK_THAT(answer, Catch::Contains(R"("error":"overloaded")"));
    }
  }
  const std::size_t descriptors = open_descriptors(service.pid());
  std::cout << "faults: fd limit 1024, " << kIdle << " idle connections: the service holds "
            << descriptors << " descriptors\n";
  CHECK(descriptors < 1024);

  // Once they go, orders work again, and the jobs behind them (the payment link) run.
  idle.clear();
  test::HttpResult placed;
  REQUIRE(test::eventually(
      [&] {
        placed = test::place(service.public_port, "fd-user", "fd-item", "fd-key-1");
        return placed.status == 202;
      },
      10s));
  const std::string order_id = placed.json()["id"];
  CHECK(test::eventually(
      [&] {
        return test::get_order(service.public_port, "fd-user", order_id)
            .json()
            .contains("payment_link");
      },
      15s));
  const std::string log = service.log();
  CHECK_THAT(log, !Catch::Contains("Too many open files"));
}
