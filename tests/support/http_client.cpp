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
                        const std::string& body, const Headers& headers,
                        std::chrono::milliseconds timeout) {
  net::io_context io;
  beast::tcp_stream stream(io);
  bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
  req.method_string(method);
  req.set(bhttp::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.insert(name, value);  // repeats allowed
  req.body() = body;
  req.prepare_payload();
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::uint64_t{64} * 1024 * 1024);
  // Asynchronous steps, because only those honour the stream's deadline.
  if (timeout.count() > 0) stream.expires_after(timeout);
  beast::error_code error;
  stream.async_connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
      [&](beast::error_code connected) {
        if ((error = connected)) return;
        stream.socket().set_option(net::ip::tcp::no_delay(true));
        bhttp::async_write(stream, req, [&](beast::error_code written, std::size_t) {
          if ((error = written)) return;
          bhttp::async_read(stream, buffer, parser,
                            [&](beast::error_code read, std::size_t) { error = read; });
        });
      });
  io.run();
  if (error) throw beast::system_error(error);
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
