// HTTP requests and responses as route handlers see them: plain data, no Beast types, so
// handler code compiles fast and is tested without sockets.
#pragma once

#include <cstdint>
#include <flashsale/sdk/websocket.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace flashsale::http {

/// Bodies above this answer 413 payload_too_large (SPEC §3).
inline constexpr std::size_t kMaxBodyBytes = std::size_t{16} * 1024;

struct Request {
  std::string method;  ///< "GET", "POST", ...
  std::string path;    ///< target without the query string, still percent-encoded
  std::map<std::string, std::string> query;    ///< decoded query parameters
  std::map<std::string, std::string> params;   ///< route captures, e.g. {"id": "..."}
  std::map<std::string, std::string> headers;  ///< names in lower case; the last if repeated
  std::set<std::string> repeated_headers;      ///< names (lower case) that came more than once
  std::string body;
  /// The client's X-Request-Id (a gateway's), or one made for this request; echoed in the
  /// answer's X-Request-Id and in the access log.
  std::string request_id;

  /// A header's value, or empty; `name` is case-insensitive.
  [[nodiscard]] std::string header(std::string name) const;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra, e.g. Retry-After
};

/// Completes a request. Call exactly once, from any thread.
using Reply = std::function<void(Response)>;
/// Handles a request; may reply at once or later (after work on another thread).
using Handler = std::function<void(Request&, const Reply&)>;

/// A WebSocket connection as a handler sees it (the SDK's client interface, plus release() and
/// send_shared()). Thread-safe. Frames go out in order, one write at a time; send() answers
/// `full` while the frames waiting exceed a bound in bytes, and a client still full after a
/// grace period is closed ("too slow", counted in flashsale_ws_slow_closes_total), never
/// buffered without bound.
class WebSocket : public sdk::WebSocketClient {
 public:
  /// Queues a frame many clients share (one serialization, no copy per client); never blocks
  /// and never answers `full`: past the bound the frame still queues, until the grace period
  /// ends or a hard cap (16 times the bound) is reached, and then the client is closed.
  /// For fan-out that must not wait for its slowest reader.
  virtual Sent send_shared(std::shared_ptr<const std::string> frame) = 0;
  /// Frames are held until release(): then `first` goes out, in order, followed by everything
  /// queued meanwhile. Lets a snapshot (and a replay) precede the live events that arrived
  /// while it was being made.
  virtual void release(std::vector<std::shared_ptr<const std::string>> first) = 0;
  /// Closes with kRefusedCloseCode and `reason` (at most 120 bytes): a request refused after
  /// the upgrade, because what it asks can only be judged then, and because browsers and Qt do
  /// not show a client the HTTP status of a refused upgrade, only that it failed.
  virtual void refuse(std::string reason) = 0;
};

/// The close code of WebSocket::refuse(), from the range kept for applications: 4000 plus the
/// HTTP status the request would have had.
inline constexpr std::uint16_t kRefusedCloseCode = 4400;

/// Takes over an upgraded connection (the request is the upgrade request).
using WebSocketHandler = std::function<void(const Request&, const std::shared_ptr<WebSocket>&)>;
/// Looks at an upgrade request before it is accepted: a response refuses it (e.g. 401).
using WebSocketCheck = std::function<std::optional<Response>(const Request&)>;

/// A JSON response.
Response json_response(int status, const nlohmann::json& body);
/// The SPEC §3 error body {"error": code, "message": text}.
Response error_response(int status, const std::string& code, const std::string& message);
/// The body as a JSON object; otherwise nullopt, with `error` set to a 400 bad_request.
std::optional<nlohmann::json> parse_json_object(const Request& req, Response& error);

}  // namespace flashsale::http
