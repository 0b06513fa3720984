// An HTTP/1.1 listener on Boost.Beast: one strand per connection, read timeouts, the 16 KiB
// body limit, a connection cap, JSON errors for bad requests, and draining shutdown.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "config.hpp"
#include "http/router.hpp"

namespace boost::asio {
class io_context;
}

namespace flashsale {
class Metrics;
}

namespace flashsale::http {

class Server {
 public:
  struct Options {
    std::string name;  ///< "public" or "admin": the metrics' listener label
    ListenAddress listen;
    std::size_t max_connections = 10000;
    std::chrono::milliseconds read_timeout{15000};
    /// A WebSocket client that sends nothing (not even a pong) for this long is closed; it is
    /// pinged after half of it.
    std::chrono::milliseconds websocket_idle_timeout{30000};
    /// A line per answered request: listener, method, route pattern, status, duration, the user
    /// (the value of `identity_header`) and the request id.
    bool access_log = false;
    std::string identity_header = "X-User-Id";
  };

  /// Binds at once (throws std::runtime_error naming the address if it cannot).
  Server(boost::asio::io_context& io, Options options, const Router& router, Metrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The bound port (useful when the configured port was 0).
  [[nodiscard]] std::uint16_t port() const;
  /// Starts accepting connections.
  void start();
  /// Stops accepting, closes idle connections; busy ones close after their response.
  void begin_shutdown();
  /// Open connections (including busy ones). Zero after begin_shutdown means drained.
  [[nodiscard]] std::size_t connections() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace flashsale::http
