// A blocking HTTP client for tests (Boost.Beast), plus raw byte exchanges for malformed input.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace flashsale::test {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  ///< names in lower case
  [[nodiscard]] nlohmann::json json() const { return nlohmann::json::parse(body); }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

/// One request on a new connection to 127.0.0.1:port; throws on a network error, and when a
/// non-zero `timeout` passes before the whole answer came (a hung server fails, never blocks).
HttpResult http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = "", const Headers& headers = {},
                        std::chrono::milliseconds timeout = std::chrono::milliseconds::zero());

/// Sends `bytes` and returns all the server sent back until it closed (or `timeout` passed).
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace flashsale::test
