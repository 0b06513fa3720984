// WebSocket routes a plugin serves on the public listener (e.g. push/websocket's /v1/stream).
#pragma once

#include <boost/config.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace flashsale::sdk {
inline namespace v1 {

/// One client connection. Thread-safe. Frames go out in order; a bounded queue sits in front of
/// the socket. The host keeps the connection alive with pings and closes it when the client
/// stops answering them.
class BOOST_SYMBOL_VISIBLE WebSocketClient {
 public:
  virtual ~WebSocketClient() = default;
  enum class Sent {
    queued,  ///< on its way
    full,    ///< too many frames waiting (the client does not keep up)
    closed,  ///< the connection is closed
  };
  /// Queues a text frame; never blocks.
  virtual Sent send(std::string text) = 0;
  /// Closes with a normal close code and `reason` (at most 120 bytes are sent).
  virtual void close(std::string reason) = 0;
};

/// The upgrade request of an identified user.
struct UserStreamRequest {
  std::string user_id;                       ///< from the identity header, already validated
  std::map<std::string, std::string> query;  ///< decoded query parameters
};

/// A WebSocket endpoint for identified users, on the public listener. The host answers a
/// request without a valid identity header with 401 missing_identity itself.
struct UserStreamRoute {
  std::string path;  ///< exact path, e.g. "/v1/stream"
  /// Runs before the upgrade, on a network thread (must not block): an empty answer accepts,
  /// any other text refuses the upgrade with 400 bad_request and that message.
  std::function<std::string(const UserStreamRequest&)> check;
  /// Takes over the accepted connection, on a network thread (must not block).
  std::function<void(const UserStreamRequest&, std::shared_ptr<WebSocketClient>)> open;
};

}  // namespace v1
}  // namespace flashsale::sdk
