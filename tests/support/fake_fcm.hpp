// A stand-in for FCM's HTTP v1 API, served by the host's own HTTP server on port 0: records
// every message and answers from a per-token script (200 with a message name once a token's
// script is used up). A `hang` answer never comes: the request is held until the fake goes.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace flashsale::test {

class FakeFcm {
 public:
  struct Received {
    std::string path;
    std::map<std::string, std::string> headers;  ///< names in lower case
    std::string body;
    std::chrono::steady_clock::time_point at;
    /// The "message" object of the body (throws if the body is not FCM-shaped).
    [[nodiscard]] nlohmann::json message() const;
  };
  struct Answer {
    int status = 200;
    nlohmann::json body = nlohmann::json::object();
    std::string retry_after = "";  ///< the Retry-After header, if not empty
    bool hang = false;
  };

  FakeFcm();
  ~FakeFcm();
  FakeFcm(const FakeFcm&) = delete;
  FakeFcm& operator=(const FakeFcm&) = delete;

  /// The base URL to configure as plugin.fcm_stub.endpoint.
  [[nodiscard]] std::string url() const;
  /// Queues the answer to the next message for `token`.
  void script(const std::string& token, Answer answer);
  [[nodiscard]] std::vector<Received> received() const;
  /// What was received for `token`, in arrival order.
  [[nodiscard]] std::vector<Received> to(const std::string& token) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace flashsale::test
