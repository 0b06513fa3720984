// See flashsale/http_client.hpp.
#include "flashsale/http_client.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <iomanip>
#include <locale>
#include <mutex>
#include <regex>
#include <sstream>

namespace flashsale::http_client {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool has_line_break(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

constexpr long long kMaxRetryAfterSeconds = 24LL * 3600;

// One connection with the loop that drives it: each call runs the loop until its answer is in
// or its deadline passes.
struct Connection {
  net::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
};

// True when a kept connection still looks usable: nothing to read and not closed by the server
// (a closed one would read end-of-file; a server that closes idle connections would otherwise
// leave it in CLOSE-WAIT here until its next use).
bool still_open(Connection& c) {
  char byte = 0;
  const auto n = ::recv(c.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

struct Client::Pool {
  std::mutex mutex;
  std::vector<std::unique_ptr<Connection>> idle;  // the most recently used last

  std::unique_ptr<Connection> take() {
    std::lock_guard lock(mutex);
    while (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      if (still_open(*c)) return c;
    }
    return nullptr;
  }

  void give_back(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mutex);
    if (idle.size() < kMaxIdle) idle.push_back(std::move(c));
  }
};

std::string Response::header(std::string_view name) const {
  const auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

Client::Client(const std::string& base_url) {
  static const std::regex pattern(
      R"(http://([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:([0-9]{1,5}))?(/[^?#\s]*)?)");
  std::smatch m;
  const auto refuse = [&] {
    return std::invalid_argument("must be http://HOST[:PORT][/PATH], not '" + base_url + "'");
  };
  if (!std::regex_match(base_url, m, pattern)) throw refuse();
  host_ = m[1];
  if (host_.front() == '[') host_ = host_.substr(1, host_.size() - 2);  // IPv6 literal
  if (m[3].matched) {
    const int port = std::stoi(m[3]);
    if (port < 1 || port > 65535) throw refuse();
    port_ = static_cast<std::uint16_t>(port);
  }
  prefix_ = m[4].matched ? m[4].str() : "";
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
  pool_ = std::make_shared<Pool>();
}

std::string Client::authority() const {
  const bool ipv6 = host_.find(':') != std::string::npos;
  return (ipv6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

std::string Client::url() const { return "http://" + authority() + prefix_; }

Response Client::post(const std::string& path, const std::string& body, const Headers& headers,
                      std::chrono::milliseconds timeout) const {
  for (const auto& [name, value] : headers) {
    if (name.empty() || has_line_break(name) || has_line_break(value)) {
      throw std::invalid_argument("HTTP header '" + name + "': empty name or a line break");
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bhttp::request<bhttp::string_body> req(bhttp::verb::post, prefix_ + path, 11);
  req.set(bhttp::field::host, authority());
  req.set(bhttp::field::user_agent, "flashsale");
  req.set(bhttp::field::content_type, "application/json");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();

  std::unique_ptr<Connection> conn = pool_->take();
  bool kept = conn != nullptr;
  for (;;) {
    if (!conn) conn = std::make_unique<Connection>();
    Connection& c = *conn;
    bhttp::response<bhttp::string_body> res;
    beast::error_code failure;
    std::size_t answered = 0;  // bytes of the answer read
    // Handlers left unrun by a timeout are dropped with the connection, never run later.
    net::ip::tcp::resolver resolver(c.io);
    const auto read = [&] {
      bhttp::async_read(c.stream, c.buffer, res, [&](beast::error_code ec, std::size_t n) {
        failure = ec;
        answered = n;
      });
    };
    const auto write = [&] {
      bhttp::async_write(c.stream, req, [&](beast::error_code ec, std::size_t) {
        if (ec) return void(failure = ec);
        read();
      });
    };
    if (kept) {
      write();
    } else {
      resolver.async_resolve(host_, std::to_string(port_), [&](beast::error_code ec, auto results) {
        if (ec) return void(failure = ec);
        c.stream.async_connect(results, [&](beast::error_code ec, auto) {
          if (ec) return void(failure = ec);
          write();
        });
      });
    }
    c.io.restart();
    c.io.run_until(deadline);
    if (!c.io.stopped()) {
      throw NetworkError(
          "POST " + url() + path + ": no answer within " + std::to_string(timeout.count()) + " ms",
          true);
    }
    if (failure) {
      // A kept connection the server had closed: the request never reached it. Once more, new.
      if (kept && answered == 0 && c.buffer.size() == 0) {
        conn.reset();
        kept = false;
        continue;
      }
      throw NetworkError("POST " + url() + path + ": " + failure.message(), false);
    }
    if (res.keep_alive() && c.buffer.size() == 0) {
      pool_->give_back(std::move(conn));
    } else {
      beast::error_code ignored;
      c.stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    }

    Response out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      out.headers[lower(field.name_string())] = std::string(field.value());
    }
    out.body = std::move(res.body());
    return out;
  }
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long seconds = 0;
    for (const char c : value) {
      seconds = std::min(kMaxRetryAfterSeconds, seconds * 10 + (c - '0'));
    }
    return std::chrono::seconds(seconds);
  }
  // An HTTP-date in the preferred IMF-fixdate form (RFC 9110 §5.6.7).
  std::tm tm{};
  std::istringstream in{std::string(value)};
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S GMT");
  if (in.fail()) return std::nullopt;
  in >> std::ws;
  if (!in.eof()) return std::nullopt;
  const auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  const auto delta = std::chrono::ceil<std::chrono::seconds>(at - now).count();
  return std::chrono::seconds(std::clamp<long long>(delta, 0, kMaxRetryAfterSeconds));
}

}  // namespace flashsale::http_client
