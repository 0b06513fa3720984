// A WebSocket test client: a background thread reads frames into a queue, so a test can wait
// for the next frame with a deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "support/http_client.hpp"

namespace flashsale::test {

class WsClient {
 public:
  /// Connects to ws://127.0.0.1:port/target; throws if the upgrade is refused.
  WsClient(std::uint16_t port, const std::string& target, const Headers& headers = {});
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  /// The next frame as JSON, or nullopt when none came within `timeout` or the server closed.
  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Frames until one satisfies `done` (included) or `timeout` passes.
  std::vector<nlohmann::json> until(const std::function<bool(const nlohmann::json&)>& done,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Reads nothing for `pause` from now on (after the frame being read, if one arrives): a
  /// client that lags behind for a while.
  void pause_reading(std::chrono::milliseconds pause);
  /// The server's close reason once it closed, else empty.
  std::string close_reason() const;
  /// The server's close code once it closed, else 0.
  std::uint16_t close_code() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flashsale::test
