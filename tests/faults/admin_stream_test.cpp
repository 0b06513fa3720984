// Admin-stream fan-out (issue 13): 300 operators on /admin/stream, half of them reading nothing,
// used to hold back the whole event pipeline (event p99 10-12 s) and take memory from 72 to
// 518 MB. Now an event is serialized once and shared, each client's queue is bounded in bytes,
// a client that stays full is closed and counted, and nobody waits for the slowest reader.
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <flashsale/sdk/events.hpp>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

#include "api/validation.hpp"
#include "support/api_client.hpp"
#include "support/parallel.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"
#include "support/ws_client.hpp"

using namespace flashsale;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

double rss_mb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

TEST_CASE("300 admin-stream clients, half not reading, hold back neither events nor memory") {
  constexpr int kReaders = 150;
  constexpr int kIdle = 150;
  constexpr int kOrders = 6000;
  constexpr auto kPace = 5ms;  // 200 orders/s, about 600 events/s: 90,000 frames/s to write
  const std::string url = test::fresh_database();
  auto service = test::start_replica(url, "fanout");
  REQUIRE(test::eventually([&] { return test::ready(*service); }, 30s));
  test::create_item(service->admin_port,
                    {{"id", "fanout"}, {"name", "Fan-out"}, {"total_stock", 1000000}});
  const double baseline_mb = rss_mb(service->pid());

  // The measuring operator: every frame's delay from its commit, taken as it arrives.
  test::WsClient measured(service->admin_port, "/admin/stream");
  REQUIRE(measured.next());  // the snapshot
  std::vector<double> lag_ms;
  std::atomic<int> links{0};  // payment_link.ready frames
  std::atomic<bool> measuring{true};
  std::thread meter([&] {
    while (measuring) {
      const auto frame = measured.next(200ms);
      if (!frame || !frame->contains("committed_at")) continue;
      if ((*frame)["type"] == "payment_link.ready") ++links;
      const auto committed = api::rfc3339_unix_us((*frame)["committed_at"]);
      if (committed) {
        lag_ms.push_back(static_cast<double>(sdk::now_unix_us() - *committed) / 1000.0);
      }
    }
  });

  // The other operators. Readers take every byte and drop it (a dashboard's parsing happens on
  // its own machine, not on this one's two cores); idle ones, whose dashboards hang, never
  // read a byte, with small receive buffers so the kernel does not absorb the stream for them.
  net::io_context io;
  std::vector<net::ip::tcp::socket> readers;
  std::vector<net::ip::tcp::socket> idle;
  readers.reserve(kReaders);
  idle.reserve(kIdle);
  const auto upgraded = [&](std::vector<net::ip::tcp::socket>& into, bool small_buffer) {
    into.emplace_back(io);
    into.back().open(net::ip::tcp::v4());
    if (small_buffer) into.back().set_option(net::socket_base::receive_buffer_size(4096));
    into.back().connect({net::ip::make_address("127.0.0.1"), service->admin_port});
    net::write(into.back(),
               net::buffer(std::string("GET /admin/stream HTTP/1.1\r\nHost: x\r\n"
                                       "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                       "Sec-WebSocket-Version: 13\r\n\r\n")));
  };
  std::array<char, 65536> sink{};
  std::function<void(net::ip::tcp::socket&)> drain = [&](net::ip::tcp::socket& s) {
    s.async_read_some(net::buffer(sink), [&](boost::system::error_code ec, std::size_t) {
      if (!ec) drain(s);
    });
  };
  for (int i = 0; i < kReaders; ++i) {
    upgraded(readers, false);
    drain(readers.back());
  }
  for (int i = 0; i < kIdle; ++i) upgraded(idle, true);
  std::thread reading([&] { io.run(); });

  double peak_mb = 0;
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      peak_mb = std::max(peak_mb, rss_mb(service->pid()));
      std::this_thread::sleep_for(100ms);
    }
  });
  std::atomic<int> accepted{0};
  const auto t0 = std::chrono::steady_clock::now();
  test::parallel_for(16, kOrders, [&](int i) {
    std::this_thread::sleep_until(t0 + i * kPace);
    const auto r = test::place(service->public_port, "fan-" + std::to_string(i), "fanout",
                               "fan-key-" + std::to_string(i));
    if (r.status == 202) ++accepted;
  });
  const double burst_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Every order's payment link is made and seen: the job planner was not held back either.
  CHECK(test::eventually([&] { return links == kOrders; }, 60s));
  std::this_thread::sleep_for(3s);  // the last frames, and the slow clients' grace period
  measuring = false;
  meter.join();
  INFO("the measuring client's close reason: " << measured.close_reason());
  const std::string metrics = test::http_request(service->admin_port, "GET", "/metrics").body;
  net::post(io, [&] {
    readers.clear();  // closing them ends their reads, and with them io.run()
    idle.clear();
  });
  reading.join();
  std::this_thread::sleep_for(3s);
  sampling = false;
  sampler.join();
  const double after_mb = rss_mb(service->pid());

  const double p50 = percentile(lag_ms, 0.5);
  const double p99 = percentile(lag_ms, 0.99);
  std::cout << "faults: admin stream, " << kReaders << " reading + " << kIdle << " idle clients, "
            << accepted << " orders (" << links << " payment links) in " << burst_s
            << " s: " << lag_ms.size() << " frames measured, commit->frame p50 " << p50
            << " ms, p99 " << p99 << " ms; RSS " << baseline_mb << " MB before, peak " << peak_mb
            << " MB, " << after_mb << " MB after the clients left\n";
  CHECK(accepted == kOrders);
  CHECK(lag_ms.size() >= static_cast<std::size_t>(kOrders));
  CHECK(p99 < 250);
  CHECK(peak_mb < 200);
  CHECK(after_mb < baseline_mb + 50);
  // The idle clients were closed as too slow, and counted.
  CHECK_THAT(metrics, Catch::Contains(R"(flashsale_ws_slow_closes_total{listener="admin"} )"));
  CHECK_THAT(metrics, !Catch::Contains(R"(flashsale_ws_slow_closes_total{listener="admin"} 0)"));
}
