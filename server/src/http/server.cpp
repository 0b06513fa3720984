// See server.hpp. Shaped after Beast's advanced_server: a session per connection on its own
// strand, one request at a time, replies posted back onto the strand from any thread.
#include "http/server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
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
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>

#include "http/request_parser.hpp"
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

// Bytes of frames a WebSocket client may have waiting; past it, send() tells senders to wait,
// send_shared() queues on (frames it queues are shared, so a lagging client costs pointers)
// up to the hard cap, and a client that stays full for the grace period is closed as too slow.
// The hard cap is above a large transaction's events (20,000 new items stream about 7 MB at
// once, faster than a reading client drains them), so only the grace period judges a reader.
constexpr std::size_t kWebSocketQueueBytes = 1 << 20;
constexpr std::size_t kWebSocketHardCapBytes = 16 * kWebSocketQueueBytes;
constexpr auto kWebSocketFullGrace = std::chrono::seconds(2);
// The kernel's send buffer of a WebSocket, fixed instead of autotuned (up to tcp_wmem's 4 MiB):
// a client that stops reading then fills it within a second of events and the queue above
// takes over, instead of every frame costing a send() to it for half a minute while the kernel
// absorbs megabytes for it (with 150 such clients, frames to the others lagged by 1-4 s). The
// kernel doubles the value; 128 KiB per round trip is far above what the event streams need.
constexpr int kWebSocketSendBuffer = 64 * 1024;
// Connections past the cap that are being answered 503 (each holds a descriptor for up to a
// second); past this many, a new one is closed at once, so a flood cannot use up the
// descriptors the cap exists to keep.
constexpr std::size_t kMaxRejecting = 32;

struct Server::State {
  State(net::io_context& io, Options opts, const Router& r, Metrics& m)
      : io(io),
        acceptor(net::make_strand(io)),
        options(std::move(opts)),
        router(r),
        metrics(m),
        websocket_gauge(m.websocket_connections(options.name)),
        slow_closes(m.websocket_slow_closes(options.name)) {}
  net::io_context& io;
  tcp::acceptor acceptor;
  Options options;
  const Router& router;
  Metrics& metrics;
  prometheus::Gauge& websocket_gauge;
  prometheus::Counter& slow_closes;
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> rejecting{0};  // connections past the cap, being answered 503
  std::atomic<bool> draining{false};
  std::mutex mutex;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::unordered_map<WsSession*, std::weak_ptr<WsSession>> websockets;
};

namespace {

bool is_protocol_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

// A request id a gateway may pass on: 1 to 128 visible ASCII characters.
constexpr std::size_t kMaxRequestId = 128;
bool acceptable_request_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxRequestId &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// 32 random hex digits, for a request that came without a usable X-Request-Id.
std::string make_request_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (std::size_t i = 0; i < id.size(); i += 16) {
    auto bits = random();
    for (std::size_t j = 0; j < 16; ++j, bits >>= 4) id[i + j] = kHex[bits & 0xf];
  }
  return id;
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
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(
        net::socket_base::send_buffer_size(kWebSocketSendBuffer), ignored);
    // Beast would name itself and its version in the 101.
    ws_.set_option(websocket::stream_base::decorator(
        [id = request->request_id](websocket::response_type& res) {
          res.set(bhttp::field::server, "flashsale");
          res.set("X-Request-Id", id);
        }));
    ws_.async_accept(upgrade, [self = shared_from_this(), request, &handler](beast::error_code ec) {
      if (ec) return;
      handler(*request, self);
      self->read();
    });
  }

  Sent send(std::string text) override {
    std::lock_guard lock(mutex_);
    if (closing_) return Sent::closed;
    if (queued_bytes_ >= kWebSocketQueueBytes) return full_locked();
    push_locked(std::make_shared<const std::string>(std::move(text)));
    return Sent::queued;
  }

  Sent send_shared(std::shared_ptr<const std::string> frame) override {
    std::lock_guard lock(mutex_);
    if (closing_) return Sent::closed;
    if (queued_bytes_ >= kWebSocketHardCapBytes) {
      close_slow_locked();
      return Sent::closed;
    }
    if (queued_bytes_ >= kWebSocketQueueBytes && full_locked() == Sent::closed) return Sent::closed;
    push_locked(std::move(frame));
    return Sent::queued;
  }

  void release(std::vector<std::shared_ptr<const std::string>> first) override {
    std::lock_guard lock(mutex_);
    for (const auto& frame : first) queued_bytes_ += frame->size();
    queue_.insert(queue_.begin(), first.begin(), first.end());
    released_ = true;
    kick_locked();
  }

  void close(std::string reason) override {
    std::lock_guard lock(mutex_);
    start_close_locked(std::move(reason), websocket::close_code::normal);
  }

  void refuse(std::string reason) override {
    std::lock_guard lock(mutex_);
    start_close_locked(std::move(reason), static_cast<websocket::close_code>(kRefusedCloseCode));
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

  void push_locked(std::shared_ptr<const std::string> frame) {
    queued_bytes_ += frame->size();
    queue_.push_back(std::move(frame));
    kick_locked();
  }

  // The queue is over its bound: `full` during the grace period, then closed as too slow. The
  // period runs from when the queue went over and ends when writing takes it back under.
  Sent full_locked() {
    const auto now = std::chrono::steady_clock::now();
    if (!full_since_) {
      full_since_ = now;
      // No later send may come to notice that the grace period is over: check then.
      auto timer = std::make_shared<net::steady_timer>(ws_.get_executor(), kWebSocketFullGrace);
      timer->async_wait([self = shared_from_this(), timer](beast::error_code) {
        std::lock_guard lock(self->mutex_);
        if (!self->closing_ && self->full_since_ &&
            std::chrono::steady_clock::now() - *self->full_since_ >= kWebSocketFullGrace) {
          self->close_slow_locked();
        }
      });
    }
    if (now - *full_since_ < kWebSocketFullGrace) return Sent::full;
    close_slow_locked();
    return Sent::closed;
  }

  // Drops what waits (its memory with it), sends the close frame when the write in flight ends,
  // and closes the socket after the grace period: a client that reads nothing would never take
  // the close frame either.
  void close_slow_locked() {
    state_->slow_closes.Increment();
    log::warn(state_->options.name + " listener: closed a WebSocket client that did not keep up (" +
              std::to_string(queued_bytes_) + " bytes waiting, full for " +
              std::to_string(kWebSocketFullGrace.count()) + " s or over the hard cap)");
    queue_.clear();
    queued_bytes_ = 0;
    start_close_locked("too slow: the client does not keep up",
                       websocket::close_code::policy_error);
    auto timer = std::make_shared<net::steady_timer>(ws_.get_executor(), kWebSocketFullGrace);
    timer->async_wait([self = shared_from_this(), timer](beast::error_code) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
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
      cork(false);
      ws_.async_close(why, [self = shared_from_this()](beast::error_code) {});
      return;
    }
    if (queue_.empty()) {
      writing_ = false;
      lock.unlock();
      cork(false);
      return;
    }
    auto frame = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= frame->size();
    // The client took the queue back under its bound: a burst it caught up with is forgiven.
    if (queued_bytes_ < kWebSocketQueueBytes) full_since_.reset();
    const bool more = !queue_.empty();
    lock.unlock();
    if (more) cork(true);
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

  // On the strand. While frames wait behind the one being written, the socket is corked: the
  // kernel packs them into full segments instead of sending (and the peer acknowledging) one
  // segment per frame, which is what fan-out to many clients spends its CPU on. Uncorked as
  // soon as the queue is empty, which sends what is held at once.
  void cork(bool on) {
    if (corked_ == on) return;
    corked_ = on;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(
        net::detail::socket_option::boolean<IPPROTO_TCP, TCP_CORK>(on), ignored);
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<Server::State> state_;
  bool corked_ = false;
  beast::flat_buffer buffer_;
  std::mutex mutex_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
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
    ++(reject_ ? state_->rejecting : state_->connections);
  }
  ~Session() {
    if (reject_) {
      --state_->rejecting;
      return;
    }
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
    limit_request(*parser_);
    stream_.expires_after(reject_ ? std::chrono::milliseconds(1000) : state_->options.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    started_ = std::chrono::steady_clock::now();
    route_ = "unmatched";
    method_ = parser_ ? std::string(parser_->get().method_string()) : "";
    // Whatever the headers read so far hold, also for a request answered 400 or 413.
    std::string_view given;
    if (parser_) given = parser_->get()["X-Request-Id"];
    request_id_ = acceptable_request_id(given) ? std::string(given) : make_request_id();
    user_.clear();
    if (state_->options.access_log && parser_) {
      user_ = std::string(parser_->get()[state_->options.identity_header]).substr(0, kMaxRequestId);
    }
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
    req->request_id = request_id_;
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
      // The headers were read: counted under the route they ask for, not as unmatched.
      bool bad_query = false;
      auto req = to_request(RawRequest(parser_->get()), bad_query);
      route_ = state_->router.match(req).route;
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
    // Checked here so that a bad handshake gets our JSON error, not Beast's plain-text answer.
    if (raw[bhttp::field::sec_websocket_version] != "13") {
      Response r = error_response(426, "bad_request",
                                  "unsupported Sec-WebSocket-Version: this server speaks 13");
      r.headers.emplace_back("Sec-WebSocket-Version", "13");
      return write(std::move(r));
    }
    if (raw[bhttp::field::sec_websocket_key].size() != 24) {
      return write(error_response(400, "bad_request",
                                  "Sec-WebSocket-Key must be 16 bytes in base64 (24 characters)"));
    }
    if (*match.check) {
      if (auto refusal = (*match.check)(*req)) return write(std::move(*refusal));
    }
    // The connection now belongs to the WebSocket session; this HTTP session ends here.
    state_->metrics.http_request(state_->options.name, route_, method_, 101, 0);
    if (state_->options.access_log) log_access(101, 0);
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
    response_.set("X-Request-Id", request_id_);
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
    if (state_->options.access_log) {
      log_access(static_cast<int>(response_.result_int()), seconds);
    }
    if (ec || !keep) return close();
    read();
  }

  // "public POST /v1/items/{item}/orders 202 1.234 ms user=u1 request=9f...": the route pattern,
  // never the raw path (ids in paths are in the user's own log of what they asked).
  void log_access(int status, double seconds) {
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.3f", seconds * 1000);
    log::write(log::LogLevel::info, "access",
               state_->options.name + " " + method_ + " " + route_ + " " + std::to_string(status) +
                   " " + ms + " ms user=" + (user_.empty() ? "-" : user_) +
                   " request=" + request_id_);
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
  std::string request_id_;
  std::string user_;  // only with the access log
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
          if (full && state->rejecting >= kMaxRejecting) {
            socket.close(ec);
          } else {
            std::make_shared<Session>(std::move(socket), state, full)->run();
          }
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
  // Collected under the lock, acted on and released outside it: the last reference to a session
  // may be one of these, and a session unregisters itself under the same lock when it goes.
  std::vector<std::shared_ptr<Session>> sessions;
  std::vector<std::shared_ptr<WsSession>> websockets;
  {
    std::lock_guard lock(state_->mutex);
    for (auto& [raw, weak] : state_->sessions) {
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
    }
    for (auto& [raw, weak] : state_->websockets) {
      if (auto ws = weak.lock()) websockets.push_back(std::move(ws));
    }
  }
  for (auto& session : sessions) {
    net::post(session->stream().get_executor(), [session] { session->close_if_idle(); });
  }
  for (auto& ws : websockets) ws->go_away();
}

std::size_t Server::connections() const { return state_->connections; }

}  // namespace flashsale::http
