// See server.hpp. Shaped after Beast's advanced_server: a session per connection on its own
// strand, one request at a time, replies posted back onto the strand from any thread.
#include "http/server.hpp"

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "log.hpp"
#include "metrics.hpp"

namespace flashsale::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

class Session;
class WsSession;

// Frames a WebSocket client may have waiting; past it, senders are told to wait, and a client
// that stays full for the grace period is closed as too slow.
constexpr std::size_t kWebSocketQueueLimit = 4096;
constexpr auto kWebSocketFullGrace = std::chrono::seconds(2);

struct Server::State {
  State(net::io_context& io, Options opts, const Router& r, Metrics& m)
      : io(io),
        acceptor(net::make_strand(io)),
        options(std::move(opts)),
        router(r),
        metrics(m),
        websocket_gauge(m.websocket_connections(options.name)) {}
  net::io_context& io;
  tcp::acceptor acceptor;
  Options options;
  const Router& router;
  Metrics& metrics;
  prometheus::Gauge& websocket_gauge;
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> draining{false};
  std::mutex mutex;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::unordered_map<WsSession*, std::weak_ptr<WsSession>> websockets;
};

namespace {

bool is_protocol_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

Request to_request(bhttp::request<bhttp::string_body>&& raw, bool& bad_query) {
  Request req;
  req.method = std::string(raw.method_string());
  const std::string target(raw.target());
  const auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) {
    for (const auto& pair : split(target.substr(q + 1), '&')) {
      std::string key, value;
      const auto eq = pair.find('=');
      if (!percent_decode(pair.substr(0, eq), key, true) ||
          !percent_decode(eq == std::string::npos ? "" : pair.substr(eq + 1), value, true)) {
        bad_query = true;
      }
      req.query[key] = value;
    }
  }
  for (const auto& field : raw) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (req.headers.count(name)) req.repeated_headers.insert(name);
    req.headers[name] = std::string(field.value());
  }
  req.body = std::move(raw.body());
  return req;
}

}  // namespace

// One upgraded connection. Every operation on the stream runs on its strand; send() may be
// called from any thread and only queues. At most one write is in flight.
class WsSession : public WebSocket, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, std::shared_ptr<Server::State> state)
      : ws_(std::move(socket)), state_(std::move(state)) {
    ++state_->connections;
    state_->websocket_gauge.Increment();
  }
  ~WsSession() override {
    {
      std::lock_guard lock(state_->mutex);
      state_->websockets.erase(this);
    }
    state_->websocket_gauge.Decrement();
    --state_->connections;
  }
  WsSession(const WsSession&) = delete;
  WsSession& operator=(const WsSession&) = delete;

  void accept(const bhttp::request<bhttp::string_body>& upgrade,
              const std::shared_ptr<Request>& request, const WebSocketHandler& handler) {
    {
      std::lock_guard lock(state_->mutex);
      state_->websockets[this] = weak_from_this();
    }
    // Pings after half the idle timeout without a frame from the client; closes at the timeout.
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = state_->options.websocket_idle_timeout;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.async_accept(upgrade, [self = shared_from_this(), request, &handler](beast::error_code ec) {
      if (ec) return;
      handler(*request, self);
      self->read();
    });
  }

  Sent send(std::string text) override {
    std::lock_guard lock(mutex_);
    if (closing_) return Sent::closed;
    if (queue_.size() >= kWebSocketQueueLimit) {
      const auto now = std::chrono::steady_clock::now();
      if (!full_since_) full_since_ = now;
      if (now - *full_since_ < kWebSocketFullGrace) return Sent::full;
      start_close_locked("too slow: the client does not keep up",
                         websocket::close_code::policy_error);
      return Sent::closed;
    }
    full_since_.reset();
    queue_.push_back(std::move(text));
    kick_locked();
    return Sent::queued;
  }

  void release(std::string first) override {
    std::lock_guard lock(mutex_);
    if (!first.empty()) queue_.push_front(std::move(first));
    released_ = true;
    kick_locked();
  }

  void close(std::string reason) override {
    std::lock_guard lock(mutex_);
    start_close_locked(std::move(reason), websocket::close_code::normal);
  }

  /// Closes for a server shutdown (1001 going away).
  void go_away() {
    std::lock_guard lock(mutex_);
    start_close_locked("server shutting down", websocket::close_code::going_away);
  }

 private:
  // Client frames carry nothing we act on; reading keeps pings, pongs and closes flowing.
  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        std::lock_guard lock(self->mutex_);
        self->closing_ = true;
        return;
      }
      self->buffer_.consume(self->buffer_.size());
      self->read();
    });
  }

  void start_close_locked(std::string reason, websocket::close_code code) {
    if (closing_) return;
    closing_ = true;
    close_reason_ = std::move(reason);
    close_code_ = code;
    kick_locked();
  }

  // Starts the write loop on the strand unless it runs or frames are held.
  void kick_locked() {
    if (writing_ || (!released_ && !closing_)) return;
    writing_ = true;
    net::post(ws_.get_executor(), [self = shared_from_this()] { self->write_next(); });
  }

  void write_next() {
    std::unique_lock lock(mutex_);
    if (closing_) {
      if (close_sent_) return;
      close_sent_ = true;
      const websocket::close_reason why(close_code_, close_reason_.substr(0, 120));
      lock.unlock();
      ws_.async_close(why, [self = shared_from_this()](beast::error_code) {});
      return;
    }
    if (queue_.empty()) {
      writing_ = false;
      return;
    }
    auto frame = std::make_shared<std::string>(std::move(queue_.front()));
    queue_.pop_front();
    lock.unlock();
    ws_.text(true);
    ws_.async_write(net::buffer(*frame),
                    [self = shared_from_this(), frame](beast::error_code ec, std::size_t) {
                      if (ec) {
                        std::lock_guard lock(self->mutex_);
                        self->closing_ = true;
                        self->close_sent_ = true;
                        return;
                      }
                      self->write_next();
                    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<Server::State> state_;
  beast::flat_buffer buffer_;
  std::mutex mutex_;
  std::deque<std::string> queue_;
  bool released_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  std::string close_reason_;
  websocket::close_code close_code_ = websocket::close_code::normal;
  std::optional<std::chrono::steady_clock::time_point> full_since_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<Server::State> state, bool reject)
      : stream_(std::move(socket)), state_(std::move(state)), reject_(reject) {
    if (!reject_) ++state_->connections;
  }
  ~Session() {
    if (reject_) return;
    {
      std::lock_guard lock(state_->mutex);
      state_->sessions.erase(this);
    }
    --state_->connections;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    if (!reject_) {
      std::lock_guard lock(state_->mutex);
      state_->sessions[this] = weak_from_this();
    }
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

  // On the strand: close unless a request is being handled (that one closes after replying).
  void close_if_idle() {
    if (!busy_) close();
  }

  beast::tcp_stream& stream() { return stream_; }

 private:
  void read() {
    if (state_->draining && !reject_) return close();
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(reject_ ? std::chrono::milliseconds(1000) : state_->options.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    started_ = std::chrono::steady_clock::now();
    route_ = "unmatched";
    method_ = parser_ ? std::string(parser_->get().method_string()) : "";
    keep_alive_ = false;
    if (ec) return on_read_error(ec);
    busy_ = true;
    if (reject_) {
      Response r = error_response(503, "overloaded", "too many connections; retry shortly");
      r.headers.emplace_back("Retry-After", "1");
      return write(std::move(r));
    }
    keep_alive_ = parser_->get().keep_alive();
    const bool upgrade = websocket::is_upgrade(parser_->get());
    auto raw = parser_->release();
    bool bad_query = false;
    auto req =
        std::make_shared<Request>(to_request(bhttp::request<bhttp::string_body>(raw), bad_query));
    const auto match = state_->router.match(*req);
    route_ = match.route;
    if (bad_query) {
      return write(error_response(400, "bad_request", "malformed percent-encoding in the query"));
    }
    if (match.websocket) return open_websocket(raw, req, match, upgrade);
    dispatch(*req, match);
  }

  // A read that brought no request: answered when the client can still use an answer.
  void on_read_error(const beast::error_code& ec) {
    // A client that closes between requests, or in the middle of one, gets no answer.
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return close();
    busy_ = true;
    if (ec == bhttp::error::body_limit) {
      return write(error_response(413, "payload_too_large", "request body is over 16 KiB"));
    }
    if (ec == bhttp::error::header_limit) {
      return write(error_response(431, "bad_request", "request headers are too large"));
    }
    if (is_protocol_error(ec)) {
      return write(error_response(400, "bad_request", "malformed HTTP request: " + ec.message()));
    }
    busy_ = false;
    close();  // a timeout, a reset, or closed by shutdown
  }

  // Hands the connection to a WebSocket session once the route's check lets it in.
  void open_websocket(const bhttp::request<bhttp::string_body>& raw,
                      const std::shared_ptr<Request>& req, const Router::Match& match,
                      bool upgrade) {
    if (!upgrade) {
      return write(error_response(426, "bad_request", match.route + " is a WebSocket endpoint"));
    }
    if (*match.check) {
      if (auto refusal = (*match.check)(*req)) return write(std::move(*refusal));
    }
    // The connection now belongs to the WebSocket session; this HTTP session ends here.
    state_->metrics.http_request(state_->options.name, route_, method_, 101, 0);
    std::make_shared<WsSession>(stream_.release_socket(), state_)
        ->accept(raw, req, *match.websocket);
  }

  // Runs the route's handler; its reply comes back to this strand from whichever thread.
  void dispatch(Request& req, const Router::Match& match) {
    if (match.status == 404) {
      return write(error_response(404, "not_found", "no route " + req.method + " " + req.path));
    }
    if (match.status == 405) {
      Response r = error_response(405, "method_not_allowed",
                                  req.method + " is not allowed on " + match.route);
      r.headers.emplace_back("Allow", match.allow);
      return write(std::move(r));
    }
    auto once = std::make_shared<std::atomic<bool>>(false);
    Reply reply = [self = shared_from_this(), once](Response response) {
      if (once->exchange(true)) return;
      net::post(self->stream_.get_executor(),
                [self, r = std::move(response)]() mutable { self->write(std::move(r)); });
    };
    try {
      (*match.handler)(req, reply);
    } catch (const std::exception& e) {
      log::error("handler for " + route_ + " threw: " + e.what());
      reply(error_response(500, "internal", "internal error"));
    }
  }

  void write(Response r) {
    const bool keep = keep_alive_ && !state_->draining;
    response_ = {};
    response_.result(static_cast<unsigned>(r.status));
    response_.version(11);
    response_.set(bhttp::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) response_.set(name, value);
    response_.keep_alive(keep);
    response_.body() = std::move(r.body);
    response_.prepare_payload();
    stream_.expires_after(state_->options.read_timeout);
    bhttp::async_write(stream_, response_,
                       [self = shared_from_this(), keep](beast::error_code ec, std::size_t) {
                         self->on_write(ec, keep);
                       });
  }

  void on_write(beast::error_code ec, bool keep) {
    busy_ = false;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    if (!reject_) {
      state_->metrics.http_request(state_->options.name, route_, method_,
                                   static_cast<int>(response_.result_int()), seconds);
    }
    if (ec || !keep) return close();
    read();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<Server::State> state_;
  bool reject_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> response_;
  bool busy_ = false;
  bool keep_alive_ = false;
  std::chrono::steady_clock::time_point started_;
  std::string route_;
  std::string method_;
};

namespace {

void accept(const std::shared_ptr<Server::State>& state) {
  state->acceptor.async_accept(
      net::make_strand(state->io), [state](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !state->acceptor.is_open()) return;
        if (ec) {
          // Out of descriptors or similar: wait a little instead of spinning on the acceptor.
          log::warn(state->options.name + " listener: accept failed: " + ec.message());
          auto timer = std::make_shared<net::steady_timer>(state->acceptor.get_executor());
          timer->expires_after(std::chrono::milliseconds(50));
          timer->async_wait([state, timer](beast::error_code) { accept(state); });
          return;
        }
        {
          // Answers are small and latency matters: never hold a segment back (Nagle).
          socket.set_option(tcp::no_delay(true), ec);
          const bool full = state->connections >= state->options.max_connections;
          std::make_shared<Session>(std::move(socket), state, full)->run();
        }
        accept(state);
      });
}

}  // namespace

Server::Server(net::io_context& io, Options options, const Router& router, Metrics& metrics)
    : state_(std::make_shared<State>(io, std::move(options), router, metrics)) {
  const auto& listen = state_->options.listen;
  beast::error_code ec;
  const auto address = net::ip::make_address(listen.host, ec);
  if (ec) {
    throw std::runtime_error(state_->options.name + " listener: '" + listen.host +
                             "' is not an IP address");
  }
  const tcp::endpoint endpoint(address, listen.port);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(state_->options.name + " listener: cannot listen on " +
                             listen.to_string() + ": " + ec.message());
  }
}

Server::~Server() {
  beast::error_code ignored;
  state_->acceptor.close(ignored);
}

std::uint16_t Server::port() const { return state_->acceptor.local_endpoint().port(); }

void Server::start() {
  net::dispatch(state_->acceptor.get_executor(), [state = state_] { accept(state); });
}

void Server::begin_shutdown() {
  state_->draining = true;
  net::dispatch(state_->acceptor.get_executor(), [state = state_] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<WsSession>> websockets;
  {
    std::lock_guard lock(state_->mutex);
    for (auto& [raw, weak] : state_->sessions) {
      if (auto session = weak.lock()) {
        net::post(session->stream().get_executor(), [session] { session->close_if_idle(); });
      }
    }
    for (auto& [raw, weak] : state_->websockets) {
      if (auto ws = weak.lock()) websockets.push_back(std::move(ws));
    }
  }
  for (auto& ws : websockets) ws->go_away();
}

std::size_t Server::connections() const { return state_->connections; }

}  // namespace flashsale::http
