// See stream.hpp. Blocking Beast: one connection, one thread, nothing to coordinate.
#include "cli/stream.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket.hpp>
#include <iostream>
#include <regex>

namespace flashsale::cli {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

struct Target {
  std::string host, port, path;
};

std::optional<Target> parse_url(const std::string& url) {
  static const std::regex pattern(R"(ws://(\[[^\]]+\]|[^/:?#]+)(?::([0-9]{1,5}))?(/[^#]*)?)");
  std::smatch m;
  if (!std::regex_match(url, m, pattern)) return std::nullopt;
  std::string host = m[1].str();
  if (host.front() == '[') host = host.substr(1, host.size() - 2);
  return Target{host, m[2].matched ? m[2].str() : "80", m[3].matched ? m[3].str() : "/"};
}

}  // namespace

int stream(const StreamOptions& options) {
  auto target = parse_url(options.url);
  if (!target) {
    std::cerr << "flashsale stream: '" << options.url
              << "' is not a ws://HOST[:PORT]/PATH address\n";
    return 2;
  }
  if (!options.since.empty()) {
    target->path +=
        (target->path.find('?') == std::string::npos ? "?since=" : "&since=") + options.since;
  }
  try {
    net::io_context io;
    websocket::stream<net::ip::tcp::socket> ws(io);
    net::ip::tcp::resolver resolver(io);
    net::connect(ws.next_layer(), resolver.resolve(target->host, target->port));
    ws.set_option(websocket::stream_base::decorator([&options](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "flashsale-stream");
      if (!options.user.empty()) req.set(options.header, options.user);
    }));
    websocket::response_type response;
    beast::error_code ec;
    ws.handshake(response, target->host + ":" + target->port, target->path, ec);
    if (ec) {
      std::cerr << "flashsale stream: " << options.url << " refused the WebSocket: HTTP "
                << response.result_int() << " " << response.body() << "\n";
      return 1;
    }
    long long seen = 0;
    beast::flat_buffer buffer;
    while (!options.count || seen < *options.count) {
      ws.read(buffer, ec);
      if (ec == websocket::error::closed) {
        const auto& reason = ws.reason();
        std::cerr << "flashsale stream: closed by the server (" << reason.code << " "
                  << reason.reason.c_str() << ")\n";
        return reason.code == websocket::close_code::normal ||
                       reason.code == websocket::close_code::going_away
                   ? 0
                   : 1;
      }
      if (ec) throw beast::system_error(ec);
      std::cout << beast::buffers_to_string(buffer.data()) << std::endl;
      buffer.consume(buffer.size());
      ++seen;
    }
    ws.close(websocket::close_code::normal, ec);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "flashsale stream: " << options.url << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace flashsale::cli
