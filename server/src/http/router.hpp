// Maps method + path pattern ("/v1/orders/{id}") to a handler; the pattern doubles as the
// bounded `route` label of the HTTP metrics.
#pragma once

#include <string>
#include <vector>

#include "http/message.hpp"

namespace flashsale::http {

class Router {
 public:
  /// Adds a route. `pattern` segments in braces capture into Request::params.
  void add(const std::string& method, const std::string& pattern, Handler handler);
  /// Adds a WebSocket route (GET with an upgrade); `check`, if set, may refuse the upgrade.
  void add_websocket(const std::string& pattern, WebSocketHandler handler,
                     WebSocketCheck check = {});

  struct Match {
    const Handler* handler = nullptr;  ///< null: no route (see status), or a WebSocket route
    const WebSocketHandler* websocket = nullptr;  ///< set for a WebSocket route
    const WebSocketCheck* check = nullptr;        ///< set for a WebSocket route (may be empty)
    std::string route;                            ///< the matched pattern, or "unmatched"
    int status = 200;   ///< 404 no such path, 405 path exists for other methods
    std::string allow;  ///< for 405: the methods the path has
  };
  /// Finds the route for a request and fills req.params; never throws.
  Match match(Request& req) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    WebSocketHandler websocket;
    WebSocketCheck check;
  };
  std::vector<Route> routes_;
};

/// Splits on `sep`, dropping empty parts: split("/a//b", '/') is {"a", "b"}.
std::vector<std::string> split(const std::string& text, char sep);
/// Decodes %XX and '+' (in queries); returns false for malformed escapes.
bool percent_decode(const std::string& in, std::string& out, bool plus_is_space);

}  // namespace flashsale::http
