// A small blocking HTTP/1.1 client (Boost.Beast) for the calls the host and plugins make to
// outside services: a base URL parsed once, then POSTs under one deadline each, over kept-alive
// connections. Not part of the plugin SDK: a static helper each user links a private copy of.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flashsale::http_client {

/// The call got no complete answer: the name did not resolve, the connection was refused or
/// broke, or the deadline passed (timed_out()). Whether the server acted on the request is
/// unknown. An HTTP error status is not a NetworkError: it comes back as a Response.
class NetworkError : public std::runtime_error {
 public:
  NetworkError(const std::string& message, bool timed_out)
      : std::runtime_error(message), timed_out_(timed_out) {}
  /// True when the deadline passed before the answer was complete.
  [[nodiscard]] bool timed_out() const { return timed_out_; }

 private:
  bool timed_out_;
};

/// Extra request headers, sent as given (after the defaults, so they replace them).
using Headers = std::vector<std::pair<std::string, std::string>>;

/// An answer, whatever its status.
struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< names in lower case; the last if repeated
  std::string body;

  /// A header's value, or empty; `name` is case-insensitive.
  [[nodiscard]] std::string header(std::string_view name) const;
};

/// A server's base address, `http://HOST[:PORT][/PREFIX]` (port 80 by default; HOST a name, an
/// IPv4 address or a bracketed IPv6 one). Thread-safe: post() may be called from several threads
/// at once. A connection whose answer allowed it is kept for the next call (up to kMaxIdle idle
/// ones, shared by the copies of a Client), so a steady stream of calls costs no connect, no
/// name resolution and no closing handshake per call.
class Client {
 public:
  /// Throws std::invalid_argument if `base_url` is not of that form (https, user info, a query
  /// or a fragment are refused too). Its message, "must be http://HOST[:PORT][/PATH], not
  /// '<base_url>'", reads as the end of a sentence that starts with the setting's name.
  explicit Client(const std::string& base_url);

  /// The host name or address (an IPv6 one without brackets).
  [[nodiscard]] const std::string& host() const { return host_; }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// The base path without a trailing slash ("" for none).
  [[nodiscard]] const std::string& prefix() const { return prefix_; }
  /// "host:port" ("[v6]:port"), as in a Host header.
  [[nodiscard]] std::string authority() const;
  /// "http://" + authority() + prefix, for messages.
  [[nodiscard]] std::string url() const;

  /// Idle connections kept for later calls; past this, a finished one is closed.
  static constexpr std::size_t kMaxIdle = 16;

  /// POSTs `body` to prefix + `path` (`path` starts with '/') on an idle kept-alive connection,
  /// else a new one, with `Content-Type: application/json` unless `headers` name another.
  /// Resolving, connecting, writing and reading all share `timeout`. A kept connection that the
  /// server closed meanwhile (nothing of an answer came back) is replaced by a new one and the
  /// request sent again, once: the server never saw it. Throws NetworkError when there is no
  /// complete answer, std::invalid_argument for a header name or value with a line break.
  [[nodiscard]] Response post(const std::string& path, const std::string& body,
                              const Headers& headers, std::chrono::milliseconds timeout) const;

 private:
  struct Pool;

  std::string host_;
  std::uint16_t port_ = 80;
  std::string prefix_;
  std::shared_ptr<Pool> pool_;
};

/// The delay a `Retry-After` value asks for: delta-seconds ("120") or an HTTP-date
/// ("Wed, 21 Oct 2015 07:28:00 GMT", counted from `now`; a past date is zero). nullopt when the
/// value is empty or malformed. Capped at one day.
std::optional<std::chrono::seconds> parse_retry_after(
    std::string_view value,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace flashsale::http_client
