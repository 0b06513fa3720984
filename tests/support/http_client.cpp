// See http_client.hpp.
#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace flashsale::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

HttpResult http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body, const Headers& headers) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  stream.socket().set_option(net::ip::tcp::no_delay(true));
  bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
  req.method_string(method);
  req.set(bhttp::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.insert(name, value);  // repeats allowed
  req.body() = body;
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::uint64_t{64} * 1024 * 1024);
  bhttp::read(stream, buffer, parser);
  auto& res = parser.get();
  HttpResult result;
  result.status = static_cast<int>(res.result_int());
  result.body = res.body();
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    result.headers[name] = std::string(field.value());
  }
  beast::error_code ignored;
  stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  return result;
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  stream.expires_after(timeout);
  net::write(stream, net::buffer(bytes));
  std::string received;
  char chunk[4096];
  for (;;) {
    beast::error_code ec;
    const auto n = stream.read_some(net::buffer(chunk), ec);
    received.append(chunk, n);
    if (ec) break;
  }
  return received;
}

}  // namespace flashsale::test
