// The HTTP listener over real sockets: routing, JSON errors, the body limit, read timeouts,
// the connection cap, draining shutdown, and the WebSocket handshake and send queue.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <future>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "http/server.hpp"
#include "metrics.hpp"
#include "support/http_client.hpp"
#include "support/service.hpp"

using namespace flashsale;
using test::http_request;
using test::raw_exchange;
namespace net = boost::asio;

namespace {

struct TestServer {
  explicit TestServer(std::size_t max_connections = 100,
                      std::chrono::milliseconds read_timeout = std::chrono::seconds(5)) {
    router.add("GET", "/hello", [](http::Request&, const http::Reply& reply) {
      reply(http::json_response(200, {{"hello", "world"}}));
    });
    router.add("POST", "/echo", [](http::Request& req, const http::Reply& reply) {
      http::Response error;
      auto body = http::parse_json_object(req, error);
      reply(body ? http::json_response(200, *body) : error);
    });
    router.add("GET", "/items/{id}", [](http::Request& req, const http::Reply& reply) {
      reply(http::json_response(200, {{"id", req.params["id"]}, {"q", req.query["q"]}}));
    });
    router.add("GET", "/slow", [this](http::Request&, const http::Reply& reply) {
      slow_started = true;
      std::thread([reply] {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        reply(http::json_response(200, {{"slow", true}}));
      }).detach();
    });
    router.add("GET", "/throws",
               [](http::Request&, const http::Reply&) { throw std::runtime_error("boom"); });
    router.add_websocket(
        "/ws", [this](const http::Request&, const std::shared_ptr<http::WebSocket>& client) {
          client->release({});
          std::lock_guard lock(ws_mutex);
          websocket = client;
        });
    server = std::make_unique<http::Server>(
        io, http::Server::Options{"public", {"127.0.0.1", 0}, max_connections, read_timeout},
        router, metrics);
    server->start();
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~TestServer() {
    guard.reset();
    io.stop();
    for (auto& t : threads) t.join();
  }
  std::uint16_t port() const { return server->port(); }

  net::io_context io;
  net::executor_work_guard<net::io_context::executor_type> guard{io.get_executor()};
  Metrics metrics;
  http::Router router;
  std::unique_ptr<http::Server> server;
  std::vector<std::thread> threads;
  std::atomic<bool> slow_started{false};
  std::mutex ws_mutex;
  std::shared_ptr<http::WebSocket> websocket;  // the last one opened on /ws
};

std::string upgrade_request(const std::string& version) {
  return "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: " +
         version + "\r\n\r\n";
}

}  // namespace

TEST_CASE("routes, captures and query parameters") {
  TestServer s;
  auto r = http_request(s.port(), "GET", "/hello");
  CHECK(r.status == 200);
  CHECK(r.headers["content-type"] == "application/json");
  CHECK(r.json()["hello"] == "world");
  r = http_request(s.port(), "GET", "/items/sku%2D1?q=a%20b+c");
  CHECK(r.json()["id"] == "sku-1");
  CHECK(r.json()["q"] == "a b c");
}

TEST_CASE("unknown routes and wrong methods answer JSON errors") {
  TestServer s;
  auto r = http_request(s.port(), "GET", "/nope");
  CHECK(r.status == 404);
  CHECK(r.json()["error"] == "not_found");
  r = http_request(s.port(), "DELETE", "/hello");
  CHECK(r.status == 405);
  CHECK(r.json()["error"] == "method_not_allowed");
  CHECK(r.headers["allow"] == "GET");
  r = http_request(s.port(), "GET", "/items/x?q=%zz");
  CHECK(r.status == 400);
  CHECK(r.json()["error"] == "bad_request");
}

TEST_CASE("malformed JSON and non-object bodies answer 400 bad_request") {
  TestServer s;
  for (const std::string body : {"{", "not json", "[1,2]", "\"text\"", ""}) {
    INFO(body);
    auto r = http_request(s.port(), "POST", "/echo", body);
    CHECK(r.status == 400);
    CHECK(r.json()["error"] == "bad_request");
    CHECK_FALSE(r.json()["message"].get<std::string>().empty());
  }
  CHECK(http_request(s.port(), "POST", "/echo", R"({"a":1})").json()["a"] == 1);
}

TEST_CASE("bodies over 16 KiB answer 413 payload_too_large") {
  TestServer s;
  const std::string just_fits = "{\"a\":\"" + std::string(std::size_t{16} * 1024 - 8, 'x') + "\"}";
  REQUIRE(just_fits.size() == std::size_t{16} * 1024);
  CHECK(http_request(s.port(), "POST", "/echo", just_fits).status == 200);
  auto r = http_request(s.port(), "POST", "/echo", just_fits + " ");
  CHECK(r.status == 413);
  CHECK(r.json()["error"] == "payload_too_large");
  // Counted under the route its headers asked for, not as unmatched.
  CHECK(test::eventually([&] {
    return s.metrics.serialize().find(
               R"(flashsale_http_requests_total{code="413",listener="public",method="POST",route="/echo"} 1)") !=
           std::string::npos;
  }));
}

TEST_CASE("every answer carries the request's X-Request-Id, or one made for it") {
  TestServer s;
  // A gateway's id comes back as it was, also on an error.
  CHECK(http_request(s.port(), "GET", "/hello", "", {{"X-Request-Id", "gw-7f3a:1"}})
            .headers["x-request-id"] == "gw-7f3a:1");
  CHECK(http_request(s.port(), "GET", "/nope", "", {{"X-Request-Id", "gw-2"}})
            .headers["x-request-id"] == "gw-2");
  // Without one, or with one that is unusable (too long, or with a space), one is made: 32 hex
  // digits, a new one each time.
  const std::regex made("[0-9a-f]{32}");
  std::set<std::string> ids;
  for (const std::string& bad : {std::string(), std::string(129, 'x'), std::string("a b")}) {
    auto r = bad.empty() ? http_request(s.port(), "GET", "/hello")
                         : http_request(s.port(), "GET", "/hello", "", {{"X-Request-Id", bad}});
    INFO(bad);
    CHECK(std::regex_match(r.headers["x-request-id"], made));
    ids.insert(r.headers["x-request-id"]);
  }
  CHECK(ids.size() == 3);
  // A body over the limit is answered before the handler: the id is there all the same.
  CHECK(http_request(s.port(), "POST", "/echo", std::string(17000, ' '), {{"X-Request-Id", "big"}})
            .headers["x-request-id"] == "big");
}

TEST_CASE("malformed HTTP answers 400 and the server keeps serving") {
  TestServer s;
  const std::string answer = raw_exchange(s.port(), "BLAH BLAH\r\n\r\n");
  CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 400"));
  CHECK_THAT(answer, Catch::Contains(R"("error":"bad_request")"));
  const std::string bad_length =
      raw_exchange(s.port(), "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n");
  CHECK_THAT(bad_length, Catch::StartsWith("HTTP/1.1 400"));
  CHECK(http_request(s.port(), "GET", "/hello").status == 200);
}

TEST_CASE("a handler that throws answers 500 without details") {
  TestServer s;
  auto r = http_request(s.port(), "GET", "/throws");
  CHECK(r.status == 500);
  CHECK(r.json()["error"] == "internal");
  CHECK(r.body.find("boom") == std::string::npos);
  CHECK(http_request(s.port(), "GET", "/hello").status == 200);
}

TEST_CASE("a client that stops sending is cut off after the read timeout") {
  TestServer s(100, std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  const std::string answer = raw_exchange(s.port(), "GET /hello HTTP/1.1\r\nHost: x\r\n");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(answer.empty());
  CHECK(elapsed >= std::chrono::milliseconds(250));
  CHECK(elapsed < std::chrono::seconds(4));
}

TEST_CASE("past the connection cap, new connections get 503 overloaded") {
  TestServer s(2);
  net::io_context io;
  std::vector<net::ip::tcp::socket> held;
  for (int i = 0; i < 2; ++i) {
    held.emplace_back(io);
    held.back().connect({net::ip::make_address("127.0.0.1"), s.port()});
  }
  REQUIRE(test::eventually([&] { return s.server->connections() == 2; }));
  auto r = http_request(s.port(), "GET", "/hello");
  CHECK(r.status == 503);
  CHECK(r.json()["error"] == "overloaded");
  CHECK(r.headers["retry-after"] == "1");
  held.clear();
  REQUIRE(test::eventually([&] { return s.server->connections() == 0; }));
  CHECK(http_request(s.port(), "GET", "/hello").status == 200);
}

TEST_CASE("shutdown drains an in-flight request and refuses new ones") {
  TestServer s;
  const auto port = s.port();
  auto in_flight =
      std::async(std::launch::async, [port] { return http_request(port, "GET", "/slow"); });
  REQUIRE(test::eventually([&] { return s.slow_started.load(); }));
  s.server->begin_shutdown();
  auto r = in_flight.get();
  CHECK(r.status == 200);
  CHECK(r.json()["slow"] == true);
  CHECK(r.headers["connection"] == "close");
  CHECK(test::eventually([&] { return s.server->connections() == 0; }));
  CHECK_THROWS(http_request(port, "GET", "/hello"));
}

TEST_CASE("requests are counted per route pattern, not per raw path") {
  TestServer s;
  http_request(s.port(), "GET", "/items/a");
  http_request(s.port(), "GET", "/items/b");
  http_request(s.port(), "GET", "/nope");
  // The count is taken once the answer is written, which may be just after the client read it.
  const std::string want_items =
      R"(flashsale_http_requests_total{code="200",listener="public",method="GET",route="/items/{id}"} 2)";
  const std::string want_unmatched =
      R"(flashsale_http_requests_total{code="404",listener="public",method="GET",route="unmatched"} 1)";
  CHECK(test::eventually([&] {
    const std::string text = s.metrics.serialize();
    return text.find(want_items) != std::string::npos &&
           text.find(want_unmatched) != std::string::npos;
  }));
  const std::string text = s.metrics.serialize();
  CHECK_THAT(
      text,
      Catch::Contains(
          R"(flashsale_http_request_duration_seconds_count{listener="public",route="/items/{id}"} 2)"));
  // Clients choose method tokens; the label does not grow with them.
  for (const std::string method : {"FOO1", "FOO2", "FOO3"}) http_request(s.port(), method, "/nope");
  CHECK(test::eventually([&] {
    return s.metrics.serialize().find(
               R"(flashsale_http_requests_total{code="404",listener="public",method="other",route="unmatched"} 3)") !=
           std::string::npos;
  }));
  CHECK_THAT(s.metrics.serialize(), !Catch::Contains("FOO1"));
  // Clients closing their connections are not requests.
  CHECK_THAT(text, !Catch::Contains(R"(code="400")"));
}

TEST_CASE("a WebSocket handshake does not name Beast, and a bad one gets a JSON error") {
  TestServer s;
  const std::string accepted =
      raw_exchange(s.port(), upgrade_request("13"), std::chrono::milliseconds(500));
  CHECK_THAT(accepted, Catch::StartsWith("HTTP/1.1 101"));
  CHECK_THAT(accepted, Catch::Contains("Server: flashsale\r\n"));
  CHECK_THAT(accepted, !Catch::Contains("Beast"));
  const std::string old_version = raw_exchange(s.port(), upgrade_request("8"));
  CHECK_THAT(old_version, Catch::StartsWith("HTTP/1.1 426"));
  CHECK_THAT(old_version, Catch::Contains("Sec-WebSocket-Version: 13\r\n"));
  CHECK_THAT(old_version, Catch::Contains(R"("error":"bad_request")"));
  CHECK_THAT(old_version, !Catch::Contains("Beast"));
  std::string no_key = upgrade_request("13");
  no_key.erase(no_key.find("Sec-WebSocket-Key"),
               no_key.find("Sec-WebSocket-Version") - no_key.find("Sec-WebSocket-Key"));
  const std::string keyless = raw_exchange(s.port(), no_key);
  CHECK_THAT(keyless, Catch::StartsWith("HTTP/1.1 400"));
  CHECK_THAT(keyless, Catch::Contains(R"("error":"bad_request")"));
}

TEST_CASE("a WebSocket client that reads nothing is closed, and shared sends never wait for it") {
  TestServer s;
  net::io_context io;
  net::ip::tcp::socket idle(io);  // upgrades, then never reads a byte
  idle.connect({net::ip::make_address("127.0.0.1"), s.port()});
  net::write(idle, net::buffer(upgrade_request("13")));
  REQUIRE(test::eventually([&] {
    std::lock_guard lock(s.ws_mutex);
    return s.websocket != nullptr;
  }));
  std::shared_ptr<http::WebSocket> client;
  {
    std::lock_guard lock(s.ws_mutex);
    client = s.websocket;
  }
  const auto frame = std::make_shared<const std::string>(64 * 1024, 'x');
  const auto start = std::chrono::steady_clock::now();
  auto slowest = std::chrono::steady_clock::duration::zero();
  auto sent = http::WebSocket::Sent::queued;
  int frames = 0;
  while (sent != http::WebSocket::Sent::closed &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    const auto t0 = std::chrono::steady_clock::now();
    sent = client->send_shared(frame);
    slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
    CHECK(sent != http::WebSocket::Sent::full);  // shared sends queue on, or close
    ++frames;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto closed_after = std::chrono::steady_clock::now() - start;
  INFO(frames << " frames of 64 KiB sent");
  CHECK(sent == http::WebSocket::Sent::closed);
  CHECK(closed_after < std::chrono::seconds(4));  // the grace period (2 s) and some slack
  CHECK(slowest < std::chrono::milliseconds(50));
  CHECK_THAT(s.metrics.serialize(),
             Catch::Contains(R"(flashsale_ws_slow_closes_total{listener="public"} 1)"));
  // The server drops the connection itself after the grace period, though nothing is read.
  client.reset();
  {
    std::lock_guard lock(s.ws_mutex);
    s.websocket.reset();
  }
  CHECK(test::eventually([&] { return s.server->connections() == 0; }, std::chrono::seconds(5)));
}
