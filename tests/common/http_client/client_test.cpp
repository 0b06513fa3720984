// http_client::Client against a real server on loopback (Beast, one thread per connection):
// calls share a kept-alive connection; a kept connection the server dropped is replaced without
// the call failing or the request being handled twice; "Connection: close" is honoured; a
// silent server times out.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <flashsale/http_client.hpp>
#include <mutex>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using flashsale::http_client::Client;
using flashsale::http_client::NetworkError;
using net::ip::tcp;

class Server {
 public:
  enum class Mode {
    keep_alive,  // answers every request of a connection
    drop_next,   // answers one request, then closes the connection once the next arrives
    close_each,  // answers "Connection: close" and closes
    silent,      // reads the request, never answers
  };

  explicit Server(Mode mode)
      : mode_(mode), acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
    accepting_ = std::thread([this] {
      for (;;) {
        tcp::socket socket(io_);
        beast::error_code ec;
        acceptor_.accept(socket, ec);
        if (ec || stopping_) return;
        ++connections_;
        std::lock_guard lock(mutex_);
        sessions_.emplace_back([this, s = std::move(socket)]() mutable { serve(s); });
      }
    });
  }

  ~Server() {
    stopping_ = true;
    {  // wake accept() up
      tcp::socket poke(io_);
      beast::error_code ec;
      poke.connect(acceptor_.local_endpoint(), ec);
    }
    accepting_.join();
    std::lock_guard lock(mutex_);
    for (auto& t : sessions_) t.join();
  }

  [[nodiscard]] std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  [[nodiscard]] int connections() const { return connections_; }
  [[nodiscard]] int handled() const { return handled_; }

 private:
  void serve(tcp::socket& socket) {
    beast::flat_buffer buffer;
    for (int answered = 0;; ++answered) {
      beast::error_code ec;
      if (mode_ == Mode::drop_next && answered == 1) {
        // The next request is on its way: close without reading it (the client sees a reset).
        socket.wait(tcp::socket::wait_read, ec);
        socket.close(ec);
        return;
      }
      bhttp::request<bhttp::string_body> req;
      bhttp::read(socket, buffer, req, ec);
      if (ec) return;
      if (mode_ == Mode::silent) {
        socket.wait(tcp::socket::wait_read, ec);  // until the client gives up and closes
        return;
      }
      ++handled_;
      bhttp::response<bhttp::string_body> res(bhttp::status::ok, 11);
      res.set(bhttp::field::content_type, "application/json");
      res.body() = req.body();  // echoed
      res.keep_alive(mode_ != Mode::close_each);
      res.prepare_payload();
      bhttp::write(socket, res, ec);
      if (ec || mode_ == Mode::close_each) return;
    }
  }

  Mode mode_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> handled_{0};
  std::mutex mutex_;
  std::vector<std::thread> sessions_;
  std::thread accepting_;
};

constexpr std::chrono::milliseconds kTimeout{5000};

std::string body(int i) { return "{\"n\":" + std::to_string(i) + "}"; }

}  // namespace

TEST_CASE("calls in a row share one kept-alive connection") {
  Server server(Server::Mode::keep_alive);
  const Client client(server.url());
  for (int i = 0; i < 50; ++i) {
    const auto res = client.post("/links", body(i), {}, kTimeout);
    REQUIRE(res.status == 200);
    CHECK(res.body == body(i));
  }
  CHECK(server.connections() == 1);
  CHECK(server.handled() == 50);
  // A copy shares the kept connections.
  const Client copy = client;  // NOLINT(performance-unnecessary-copy-initialization)
  CHECK(copy.post("/links", body(50), {}, kTimeout).body == body(50));
  CHECK(server.connections() == 1);
}

TEST_CASE("calls from several threads at once each get an answer, on a few connections") {
  Server server(Server::Mode::keep_alive);
  const Client client(server.url());
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (client.post("/links", body(t * 100 + i), {}, kTimeout).body == body(t * 100 + i)) {
          ++right;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(right == 100);
  CHECK(server.handled() == 100);
  CHECK(server.connections() <= 4);
}

TEST_CASE("a kept connection the server dropped is replaced: the call succeeds, handled once") {
  Server server(Server::Mode::drop_next);
  const Client client(server.url());
  for (int i = 0; i < 10; ++i) {
    const auto res = client.post("/links", body(i), {}, kTimeout);
    REQUIRE(res.status == 200);
    CHECK(res.body == body(i));
  }
  CHECK(server.handled() == 10);
  // Each call after the first was sent on the connection kept from the one before, which the
  // server reset; it was sent again on a new connection, which the next call then found.
  CHECK(server.connections() == 10);
}

TEST_CASE("an answer with Connection: close is not kept") {
  Server server(Server::Mode::close_each);
  const Client client(server.url());
  for (int i = 0; i < 5; ++i) CHECK(client.post("/links", body(i), {}, kTimeout).body == body(i));
  CHECK(server.connections() == 5);
  CHECK(server.handled() == 5);
}

TEST_CASE("a server that never answers times out, and is not asked twice") {
  Server server(Server::Mode::silent);
  const Client client(server.url());
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)client.post("/links", body(1), {}, std::chrono::milliseconds(300));
    FAIL("no NetworkError");
  } catch (const NetworkError& e) {
    CHECK(e.timed_out());
  }
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= std::chrono::milliseconds(300));
  CHECK(took < std::chrono::seconds(3));
  CHECK(server.connections() == 1);
}
