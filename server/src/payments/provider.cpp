// See provider.hpp.
#include "payments/provider.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <regex>

namespace flashsale::payments {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

Provider::Provider(const std::string& base_url, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  static const std::regex pattern(R"(http://([^/:]+)(:([0-9]{1,5}))?(/.*)?)");
  std::smatch m;
  if (!std::regex_match(base_url, m, pattern)) {
    throw std::invalid_argument("payment provider URL must be http://HOST[:PORT][/PATH], not '" +
                                base_url + "'");
  }
  host_ = m[1];
  if (m[3].matched) port_ = static_cast<std::uint16_t>(std::stoi(m[3]));
  prefix_ = m[4].matched ? m[4].str() : "";
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
}

std::string Provider::post(const std::string& path, const std::string& body) const {
  net::io_context io;
  beast::tcp_stream stream(io);
  net::ip::tcp::resolver resolver(io);
  bhttp::request<bhttp::string_body> req(bhttp::verb::post, prefix_ + path, 11);
  req.set(bhttp::field::host, host_);
  req.set(bhttp::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  beast::error_code failure;
  // Everything runs on this private loop, so one deadline covers resolve, connect, write, read.
  resolver.async_resolve(host_, std::to_string(port_), [&](beast::error_code ec, auto results) {
    if (ec) return void(failure = ec);
    stream.async_connect(results, [&](beast::error_code ec, auto) {
      if (ec) return void(failure = ec);
      bhttp::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
        if (ec) return void(failure = ec);
        bhttp::async_read(stream, buffer, res,
                          [&](beast::error_code ec, std::size_t) { failure = ec; });
      });
    });
  });
  io.run_for(timeout_);
  if (!io.stopped()) {
    throw ProviderError("payment provider " + host_ + ": no answer within " +
                            std::to_string(timeout_.count()) + " ms",
                        true);
  }
  if (failure) throw ProviderError("payment provider " + host_ + ": " + failure.message(), true);
  const int status = res.result_int();
  if (status >= 200 && status < 300) return res.body();
  const bool transient = status == 429 || status >= 500;
  throw ProviderError(
      "payment provider answered " + std::to_string(status) + ": " + res.body().substr(0, 200),
      transient);
}

std::string Provider::create_link(const std::string& order_id, const std::string& user_id,
                                  const std::string& item_id) const {
  const auto answer = nlohmann::json::parse(
      post("/links",
           nlohmann::json{{"order_id", order_id}, {"user_id", user_id}, {"item_id", item_id}}
               .dump()),
      nullptr, false);
  if (!answer.is_object() || !answer.contains("url") || !answer["url"].is_string()) {
    throw ProviderError("payment provider: the answer has no \"url\"", false);
  }
  return answer["url"].get<std::string>();
}

void Provider::refund(const std::string& order_id, const std::string& event_id) const {
  post("/refunds", nlohmann::json{{"order_id", order_id}, {"event_id", event_id}}.dump());
}

}  // namespace flashsale::payments
