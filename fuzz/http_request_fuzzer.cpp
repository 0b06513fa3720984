// Fuzz target: the bytes a client sends on one connection, read as the listener reads them
// (Beast's parser with the service's limits, keep-alive requests one after another, the bytes
// arriving in pieces) and served by the real routes up to the storage. Byte 0 picks the listener
// (bit 0: admin) and the size of the pieces (the other bits); the rest is the stream.
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api_harness.hpp"
#include "http/request_parser.hpp"

namespace {

namespace beast = boost::beast;
using namespace flashsale;

// Enough to chain requests on one connection without letting one input run long.
constexpr int kMaxRequestsPerConnection = 32;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::Api api("");
  static boost::asio::io_context io;
  if (size == 0) return 0;
  const http::Router& router = (data[0] & 1) != 0 ? api.admin_routes : api.public_routes;
  beast::test::stream client(io, {reinterpret_cast<const char*>(data + 1), size - 1});
  client.read_size(1 + (data[0] >> 1));
  client.close_remote();  // the client's bytes end with the connection

  beast::flat_buffer buffer;  // carries what follows one request over to the next, as a session's
  for (int i = 0; i < kMaxRequestsPerConnection; ++i) {
    http::RequestParser parser;
    http::limit_request(parser);
    beast::error_code ec;
    beast::http::read(client, buffer, parser, ec);
    // The session answers 400, 413 or 431, or just closes: either way the connection ends.
    if (ec) break;
    const bool keep_alive = parser.get().keep_alive();
    const bool upgrade = beast::websocket::is_upgrade(parser.get());
    auto raw = parser.release();
    bool bad_query = false;
    http::Request req = http::to_request(http::RawRequest(raw), bad_query);
    // A malformed query is answered 400 before any handler runs.
    if (!bad_query) {
      const http::Response response = api.serve(router, req, upgrade);
      if (response.status == 101) break;  // the connection now speaks WebSocket
      const bool json_body = response.content_type == "application/json" && !response.body.empty();
      if (json_body && !nlohmann::json::accept(response.body)) {
        fuzz::defect("answer " + std::to_string(response.status) +
                     " is not JSON: " + response.body);
      }
    }
    if (!keep_alive) break;
  }
  return 0;
}
