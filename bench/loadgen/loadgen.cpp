// flashsale-loadgen: an HTTP/1.1 load generator that plays a flash-sale crowd against
// POST /v1/items/{item}/orders over many keep-alive connections (see bench/README.md).
//
// Open loop (--rate R): request i is due at t0 + i/R and goes to connection i % N; its latency
// counts from that due time, so time spent queued behind a slow answer on the same connection
// is part of the figure (no coordinated omission). Closed loop (--rate 0): each connection
// sends its next request as soon as the previous answer arrived.

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/cli.hpp"
#include "common/net.hpp"
#include "common/report.hpp"
#include "common/self_test.hpp"
#include "common/timing.hpp"

namespace flashsale::bench {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using Json = nlohmann::json;

// Exit codes (common/cli.hpp): 1 when set-up failed, or not a single answer arrived.

constexpr std::size_t kMaxOutcomeKinds = 64;  // a misbehaving server cannot blow up the report
constexpr std::size_t kMaxBodyBytes = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Options

struct Options : CommonOptions {
  std::string item;                // as given: one id, or several separated by commas
  std::vector<std::string> items;  // item split at the commas; defaults to create_item, else "hot"
  unsigned connections = 100;
  unsigned threads = 2;
  double rate = 0;             // requests/s over all connections; 0 = closed loop
  std::uint64_t requests = 0;  // 0 = no limit
  double duration_s = -1;      // < 0: not given
  std::uint64_t users = 0;     // 0 = one user per request
  bool random_users = false;
  std::string user_prefix = "user-";
  std::string user_header = "X-User-Id";
  std::string key_prefix;  // empty: random per run
  double timeout_s = 10;
  double drain_s = 5;
  double connect_wait_s = 10;
  std::optional<std::string> create_item;
  std::optional<std::int64_t> stock;
  unsigned admin_port = 8081;
  std::optional<std::int64_t> per_user_limit;
  std::optional<std::int64_t> waitlist_limit;
  std::optional<std::int64_t> payment_window_s;
  std::uint64_t seed = 0;
  bool seed_given = false;
};

constexpr std::string_view kUsage = R"(usage: flashsale-loadgen --port P [options]

Plays a flash-sale crowd: POST /v1/items/{item}/orders with X-User-Id and a unique
Idempotency-Key per request, over many keep-alive HTTP/1.1 connections.
Prints a summary on stderr and one JSON line on stdout.

target
  --host H              server address (default 127.0.0.1)
  --port P              public listener port (required)
  --item ID[,ID...]     item to order (default: the --create-item id, else "hot"); with K
                        items, request i goes to the (i mod K)-th (a mixed crowd)
load shape
  --connections N       keep-alive connections (default 100)
  --threads T           I/O threads (default 2)
  --rate R              open loop: R requests/s spread over all connections, latency
                        measured from each request's intended send time;
                        0 = closed loop: next request as soon as the answer arrives (default 0)
  --requests N          stop after N requests (default: no limit)
  --duration S          stop issuing requests after S seconds (default 10, or 300 when
                        --requests is given); whichever of --requests/--duration ends first
  --timeout S           per-request timeout (default 10)
  --drain S             after the end, wait at most S seconds for answers still due (default 5)
users and keys
  --users U             distinct users user-0..user-(U-1) (default: one user per request)
  --user-mode M         round-robin | random (default round-robin)
  --user-prefix P       user id prefix (default "user-")
  --user-header H       identity header (default X-User-Id)
  --key-prefix P        Idempotency-Key prefix (default: random per run)
  --seed N              seed for --user-mode random
set-up
  --create-item ID      before the run, POST /admin/items {"id":ID,"name":ID,"total_stock":K};
                        409 already_exists is fine
  --stock K             total_stock for --create-item (required with it)
  --admin-port P        admin listener port (default 8081)
  --per-user-limit N  --waitlist-limit N  --payment-window S
                        optional item fields for --create-item
output
  --progress            one progress line per second on stderr
  --self-test           run the built-in checks and exit
  --help                this text
)";

bool valid_item_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

Options parse_options(const std::vector<std::string>& args) {
  Options o;
  for (Args a(args); a.next();) {
    if (common_flag(a, o)) continue;
    const auto& flag = a.flag();
    if (flag == "--admin-port") {
      o.admin_port = static_cast<unsigned>(a.count<std::uint64_t>(1, 65535));
    } else if (flag == "--item") {
      o.item = a.value();
    } else if (flag == "--connections") {
      o.connections = static_cast<unsigned>(a.count<std::uint64_t>(1, 100000));
    } else if (flag == "--threads") {
      o.threads = static_cast<unsigned>(a.count<std::uint64_t>(1, 256));
    } else if (flag == "--rate") {
      o.rate = a.real(0);
    } else if (flag == "--requests") {
      o.requests = a.count<std::uint64_t>(1, UINT64_MAX);
    } else if (flag == "--duration") {
      o.duration_s = a.real(0.001);
    } else if (flag == "--timeout") {
      o.timeout_s = a.real(0.001);
    } else if (flag == "--drain") {
      o.drain_s = a.real(0);
    } else if (flag == "--users") {
      o.users = a.count<std::uint64_t>(1, UINT64_MAX);
    } else if (flag == "--user-mode") {
      const auto mode = a.value();
      if (mode == "random") {
        o.random_users = true;
      } else if (mode == "round-robin") {
        o.random_users = false;
      } else {
        throw UsageError{"--user-mode: expected round-robin or random, got '" + mode + "'"};
      }
    } else if (flag == "--user-prefix") {
      o.user_prefix = a.value();
    } else if (flag == "--user-header") {
      o.user_header = a.value();
    } else if (flag == "--key-prefix") {
      o.key_prefix = a.value();
    } else if (flag == "--seed") {
      o.seed = a.number<std::uint64_t>();
      o.seed_given = true;
    } else if (flag == "--create-item") {
      o.create_item = a.value();
    } else if (flag == "--stock") {
      o.stock = a.number<std::int64_t>();
    } else if (flag == "--per-user-limit") {
      o.per_user_limit = a.number<std::int64_t>();
    } else if (flag == "--waitlist-limit") {
      o.waitlist_limit = a.number<std::int64_t>();
    } else if (flag == "--payment-window") {
      o.payment_window_s = a.number<std::int64_t>();
    } else {
      throw a.unknown();
    }
  }
  if (!run_wanted(o)) return o;
  if (o.item.empty()) o.item = o.create_item.value_or("hot");
  o.items.clear();
  for (std::size_t from = 0;;) {
    const auto comma = o.item.find(',', from);
    o.items.push_back(o.item.substr(from, comma == std::string::npos ? comma : comma - from));
    if (!valid_item_id(o.items.back()))
      throw UsageError{"--item: expected [a-z0-9-]{1,64}, got '" + o.items.back() + "'"};
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  if (o.items.size() > 1000) throw UsageError{"--item: at most 1000 items"};
  if (o.create_item) {
    if (!valid_item_id(*o.create_item)) {
      throw UsageError{"--create-item: expected [a-z0-9-]{1,64}, got '" + *o.create_item + "'"};
    }
    if (!o.stock) throw UsageError{"--create-item needs --stock K"};
    if (*o.stock < 0) throw UsageError{"--stock must be >= 0"};
  } else if (o.stock || o.per_user_limit || o.waitlist_limit || o.payment_window_s) {
    throw UsageError{
        "--stock/--per-user-limit/--waitlist-limit/--payment-window need --create-item"};
  }
  if (o.duration_s < 0) o.duration_s = o.requests > 0 ? 300 : 10;
  if (o.random_users && o.users == 0) {
    if (o.requests == 0) throw UsageError{"--user-mode random needs --users U (or --requests N)"};
    o.users = o.requests;
  }
  if (o.user_header.empty() || !printable_token(o.user_header)) {
    throw UsageError{"--user-header: not a header name"};
  }
  if (!printable_token(o.user_prefix) || !printable_token(o.key_prefix)) {
    throw UsageError{"--user-prefix/--key-prefix: printable characters only, no spaces"};
  }
  if (o.key_prefix.size() > 80) throw UsageError{"--key-prefix: at most 80 characters"};
  return o;
}

// ---------------------------------------------------------------------------------------------
// Outcomes

/// Names the outcome of one HTTP answer: the order's "status" for a 2xx, else the JSON
/// "error" code, else "http_<status>". Never throws on a malformed body.
std::string classify(unsigned status, std::string_view body) {
  auto fallback = "http_" + std::to_string(status);
  const Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return fallback;
  if (status >= 200 && status < 300) {
    if (auto it = j.find("status"); it != j.end() && it->is_string()) {
      auto code = sanitize_code(it->get_ref<const std::string&>());
      return code.empty() ? fallback : code;
    }
  }
  if (auto it = j.find("error"); it != j.end() && it->is_string()) {
    auto code = sanitize_code(it->get_ref<const std::string&>());
    return code.empty() ? fallback : code;
  }
  return fallback;
}

// ---------------------------------------------------------------------------------------------
// Shared run state

struct Stats {
  LatencyHistogram latency;
  Counts outcomes;
  Counts error_kinds;
  std::uint64_t sent = 0;
  std::uint64_t answered = 0;
  std::uint64_t errors = 0;
  std::uint64_t retried = 0;
  std::uint64_t unfinished = 0;
  Clock::time_point last_answer{};

  void merge(const Stats& o) {
    latency.merge(o.latency);
    for (const auto& [k, v] : o.outcomes) count_into(outcomes, k, kMaxOutcomeKinds, v);
    for (const auto& [k, v] : o.error_kinds) count_into(error_kinds, k, kMaxOutcomeKinds, v);
    sent += o.sent;
    answered += o.answered;
    errors += o.errors;
    retried += o.retried;
    unfinished += o.unfinished;
    last_answer = std::max(last_answer, o.last_answer);
  }
};

struct Run {
  Options opt;
  tcp::endpoint endpoint;
  std::string host_header;
  std::vector<std::string> targets;  // one per item: request i goes to targets[i % size]
  std::string key_prefix;
  std::uint64_t limit = UINT64_MAX;  // total requests allowed
  double interval_ns = 0;            // open loop: time between two due requests

  // Set once before the connections start.
  Clock::time_point t0{};
  Clock::time_point end{};       // no request is issued (closed) / due (open) at or after this
  Clock::time_point deadline{};  // end + drain: everything stops

  std::atomic<std::uint64_t> next_index{0};  // closed loop: claimed request indexes
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<unsigned> pending_connects{0};
  std::atomic<unsigned> active{0};
  std::atomic<bool> interrupted{false};  // SIGINT/SIGTERM: finish what is in flight, then stop

  std::mutex mutex;
  std::condition_variable cv;
  std::function<void()> on_all_done;  // set before start; called once, from some I/O thread

  [[nodiscard]] bool open_loop() const { return opt.rate > 0; }

  [[nodiscard]] Clock::time_point due(std::uint64_t index) const {
    return t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(
                    std::llround(static_cast<double>(index) * interval_ns)));
  }

  [[nodiscard]] std::string user_for(std::uint64_t index, std::mt19937_64& rng) const {
    std::uint64_t u = index;
    if (opt.users > 0) {
      u = opt.random_users ? std::uniform_int_distribution<std::uint64_t>(0, opt.users - 1)(rng)
                           : index % opt.users;
    }
    return opt.user_prefix + std::to_string(u);
  }
};

// ---------------------------------------------------------------------------------------------
// One keep-alive connection; every handler runs on its strand.

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(net::io_context& ioc, Run& run, std::uint64_t id)
      : run_(run),
        id_(id),
        stream_(net::make_strand(ioc)),
        timer_(stream_.get_executor()),
        rng_(run.opt.seed + id * 0x9E3779B97F4A7C15ULL) {}

  /// Connects before the clock starts, so set-up time is not charged to the first requests.
  void warm_up() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->stream_.expires_after(to_duration(self->run_.opt.connect_wait_s));
      self->stream_.async_connect(self->run_.endpoint, [self](beast::error_code ec) {
        self->connected_ = !ec;
        if (ec) {
          self->stream_.socket().close(ec);
        } else {
          self->set_no_delay();
        }
        if (self->run_.pending_connects.fetch_sub(1) == 1) {
          std::lock_guard lock(self->run_.mutex);
          self->run_.cv.notify_all();
        }
      });
    });
  }

  void start() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->next(); });
  }

  /// After an interrupt: wakes a connection that waits for its next due time; one with a
  /// request in flight stops when the answer arrives.
  void wake() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
  }

  [[nodiscard]] const Stats& stats() const { return stats_; }

 private:
  void next() {
    if (run_.interrupted.load(std::memory_order_relaxed)) return finish();
    const auto now = Clock::now();
    if (run_.open_loop()) {
      const std::uint64_t index = id_ + k_ * run_.opt.connections;
      if (index >= run_.limit || run_.due(index) >= run_.end) return finish();
      if (now >= run_.deadline) return finish();
      const auto due = run_.due(index);
      ++k_;
      if (due > now) {
        timer_.expires_at(due);
        timer_.async_wait([self = shared_from_this(), index, due](beast::error_code ec) {
          if (ec) return self->finish();
          self->begin(index, due);
        });
        return;
      }
      begin(index, due);
    } else {
      if (now >= run_.end) return finish();
      const std::uint64_t index = run_.next_index.fetch_add(1, std::memory_order_relaxed);
      if (index >= run_.limit) return finish();
      begin(index, now);
    }
  }

  /// Starts request `index`, due at `due` (the latency clock starts there).
  void begin(std::uint64_t index, Clock::time_point due) {
    due_ = due;
    retried_ = false;
    ++stats_.sent;
    run_.sent.fetch_add(1, std::memory_order_relaxed);

    request_ = {};
    request_.method(http::verb::post);
    request_.target(run_.targets[index % run_.targets.size()]);
    request_.version(11);
    request_.set(http::field::host, run_.host_header);
    request_.set(http::field::user_agent, "flashsale-loadgen");
    request_.set(run_.opt.user_header, run_.user_for(index, rng_));
    request_.set("Idempotency-Key", run_.key_prefix + std::to_string(index));
    request_.content_length(0);
    request_.keep_alive(true);
    send();
  }

  void set_no_delay() {
    beast::error_code ignored;
    stream_.socket().set_option(tcp::no_delay(true), ignored);
  }

  void arm_expiry() {
    const auto limit = std::min(Clock::now() + to_duration(run_.opt.timeout_s), run_.deadline);
    stream_.expires_at(limit);
  }

  void send() {
    if (!connected_) {
      arm_expiry();
      stream_.async_connect(run_.endpoint, [self = shared_from_this()](beast::error_code ec) {
        if (ec) return self->fail("connect", ec);
        self->connected_ = true;
        self->served_on_this_socket_ = 0;
        self->set_no_delay();
        self->buffer_.clear();
        self->write();
      });
      return;
    }
    write();
  }

  void write() {
    arm_expiry();
    http::async_write(stream_, request_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->fail("write", ec);
                        self->read();
                      });
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->fail("read", ec);
                       self->on_answer();
                     });
  }

  void on_answer() {
    const auto now = Clock::now();
    const auto& response = parser_->get();
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(now - due_);
    stats_.latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, latency.count())));
    count_into(stats_.outcomes, classify(response.result_int(), response.body()), kMaxOutcomeKinds);
    ++stats_.answered;
    stats_.last_answer = now;
    ++served_on_this_socket_;
    run_.answered.fetch_add(1, std::memory_order_relaxed);
    if (!response.keep_alive()) close();
    next();
  }

  void fail(const char* phase, beast::error_code ec) {
    // A keep-alive socket the server closed while idle: resend once on a fresh socket. The
    // Idempotency-Key makes that safe even if the first copy did arrive.
    const bool stale = served_on_this_socket_ > 0 && !retried_ &&
                       (ec == http::error::end_of_stream || ec == net::error::eof ||
                        ec == net::error::connection_reset || ec == net::error::broken_pipe);
    close();
    if (stale && Clock::now() < run_.deadline) {
      retried_ = true;
      ++stats_.retried;
      return send();
    }
    ++stats_.errors;
    run_.errors.fetch_add(1, std::memory_order_relaxed);
    std::string kind = std::string(phase) + ": " + ec.message();
    if (ec == beast::error::timeout) {
      // Cut by the end of the drain period, or by the per-request --timeout.
      kind = Clock::now() + std::chrono::milliseconds(5) >= run_.deadline ? "cut_at_deadline"
                                                                          : "timeout";
    }
    count_into(stats_.error_kinds, kind, kMaxOutcomeKinds);
    if (std::string_view(phase) == "connect") {
      // Do not spin against a listener that is gone.
      timer_.expires_after(std::chrono::milliseconds(50));
      timer_.async_wait([self = shared_from_this()](beast::error_code) { self->next(); });
      return;
    }
    next();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    connected_ = false;
    served_on_this_socket_ = 0;
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    if (run_.open_loop() && !run_.interrupted.load(std::memory_order_relaxed)) {
      // Requests that were due before the end but never went out (the connection was still
      // busy at the deadline) are reported, not silently dropped.
      for (std::uint64_t k = k_;; ++k) {
        const std::uint64_t index = id_ + k * run_.opt.connections;
        if (index >= run_.limit || run_.due(index) >= run_.end) break;
        ++stats_.unfinished;
      }
    }
    close();
    if (run_.active.fetch_sub(1) == 1 && run_.on_all_done) run_.on_all_done();
  }

  Run& run_;
  std::uint64_t id_;
  beast::tcp_stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::mt19937_64 rng_;
  Stats stats_;
  std::uint64_t k_ = 0;  // open loop: this connection's next slot (index = id + k * N)
  Clock::time_point due_{};
  std::uint64_t served_on_this_socket_ = 0;
  bool connected_ = false;
  bool retried_ = false;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------------------------
// One-off HTTP exchange (set-up), bounded in time.

struct Answer {
  unsigned status = 0;
  std::string body;
  std::string error;  // transport error, empty if an answer arrived
};

Answer http_once(const tcp::endpoint& endpoint, const std::string& host_header, http::verb verb,
                 const std::string& target, const std::string& body, double timeout_s) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::string_body> request{verb, target, 11};
  request.set(http::field::host, host_header);
  request.set(http::field::user_agent, "flashsale-loadgen");
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  request.keep_alive(false);
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBodyBytes);
  Answer answer;
  stream.expires_after(to_duration(timeout_s));
  stream.async_connect(endpoint, [&](beast::error_code ec) {
    if (ec) {
      answer.error = "connect: " + ec.message();
      return;
    }
    http::async_write(stream, request, [&](beast::error_code ec, std::size_t) {
      if (ec) {
        answer.error = "write: " + ec.message();
        return;
      }
      http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
        if (ec) {
          answer.error = "read: " + ec.message();
          return;
        }
        answer.status = parser.get().result_int();
        answer.body = parser.get().body();
      });
    });
  });
  ioc.run();
  return answer;
}

bool create_item(const Options& o, const tcp::endpoint& public_endpoint) {
  const tcp::endpoint admin(public_endpoint.address(), static_cast<unsigned short>(o.admin_port));
  Json item = {{"id", *o.create_item}, {"name", *o.create_item}, {"total_stock", *o.stock}};
  if (o.per_user_limit) item["per_user_limit"] = *o.per_user_limit;
  if (o.waitlist_limit) item["waitlist_limit"] = *o.waitlist_limit;
  if (o.payment_window_s) item["payment_window_s"] = *o.payment_window_s;
  const auto answer = http_once(admin, o.host + ":" + std::to_string(o.admin_port),
                                http::verb::post, "/admin/items", item.dump(), 10);
  if (!answer.error.empty()) {
    std::cerr << "flashsale-loadgen: POST /admin/items on port " << o.admin_port << ": "
              << answer.error << "\n";
    return false;
  }
  if (answer.status == 201) {
    std::cerr << "flashsale-loadgen: created item '" << *o.create_item << "' with stock "
              << *o.stock << "\n";
    return true;
  }
  if (answer.status == 409 && classify(409, answer.body) == "already_exists") {
    std::cerr << "flashsale-loadgen: item '" << *o.create_item << "' already exists; using it\n";
    return true;
  }
  std::cerr << "flashsale-loadgen: POST /admin/items answered " << answer.status << ": "
            << answer.body.substr(0, 300) << "\n";
  return false;
}

// ---------------------------------------------------------------------------------------------
// Reporting

/// Keys in the order a reader expects them (requests first), hence ordered_json.
nlohmann::ordered_json report_json(const Run& run, const Stats& total, double seconds) {
  using Ordered = nlohmann::ordered_json;
  Ordered outcomes = {{"reserved", 0}, {"waiting", 0}};
  for (const auto& [k, v] : total.outcomes) outcomes[k] = v;
  const double throughput = seconds > 0 ? static_cast<double>(total.answered) / seconds : 0;
  Ordered report = {
      {"requests", total.answered},
      {"seconds", round_to(seconds, 3)},
      {"throughput_rps", round_to(throughput, 1)},
  };
  report.update(latency_json(total.latency));
  report.update({
      {"outcomes", outcomes},
      {"errors", total.errors},
      {"error_kinds", to_json(total.error_kinds)},
      {"sent", total.sent},
      {"unfinished", total.unfinished},
      {"retried", total.retried},
      {"mode", run.open_loop() ? "open" : "closed"},
      {"rate", run.opt.rate},
      {"connections", run.opt.connections},
      {"item", run.opt.item},
      {"loadgen_cpu_s", round_to(own_cpu_seconds(), 2)},
      {"interrupted", run.interrupted.load()},
  });
  return report;
}

void print_summary(const Run& run, const Stats& total, double seconds) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(2);
  s << "flashsale-loadgen: " << (run.open_loop() ? "open loop" : "closed loop");
  if (run.open_loop()) s << " at " << run.opt.rate << " req/s";
  if (run.interrupted.load()) s << " (interrupted)";
  s << ", " << run.opt.connections << " connections, " << run.opt.threads
    << " threads, POST http://" << run.host_header << run.targets.front()
    << (run.targets.size() > 1
            ? " (and " + std::to_string(run.targets.size() - 1) + " other items, round-robin)"
            : std::string())
    << "\n";
  s << "  answered   " << total.answered << " in " << seconds
    << " s = " << (seconds > 0 ? static_cast<double>(total.answered) / seconds : 0.0)
    << " req/s  (sent " << total.sent << ", transport errors " << total.errors << ", unfinished "
    << total.unfinished << ", resent on stale socket " << total.retried << ")\n"
    << "  loadgen    " << own_cpu_seconds() << " CPU s over " << run.opt.threads << " threads\n";
  s.precision(3);
  s << "  latency ms " << Percentiles{total.latency}
    << (run.open_loop() ? "  (from intended send time)" : "") << "\n";
  s << "  outcomes  ";
  if (total.outcomes.empty()) s << " none";
  for (const auto& [k, v] : total.outcomes) s << " " << k << "=" << v;
  s << "\n";
  if (!total.error_kinds.empty()) {
    s << "  errors    ";
    for (const auto& [k, v] : total.error_kinds) s << " [" << k << "]=" << v;
    s << "\n";
  }
  std::cerr << s.str();
}

/// Prints sent/answered/rps once a second until every connection has finished.
class Progress : public std::enable_shared_from_this<Progress> {
 public:
  Progress(net::io_context& ioc, Run& run) : run_(run), timer_(net::make_strand(ioc)) {}

  void start() {
    net::post(timer_.get_executor(), [self = shared_from_this()] {
      self->next_tick_ = self->run_.t0 + std::chrono::seconds(1);
      self->arm();
    });
  }

  void stop() {
    net::post(timer_.get_executor(), [self = shared_from_this()] {
      self->stopped_ = true;
      self->timer_.cancel();
    });
  }

 private:
  void arm() {
    if (stopped_) return;
    timer_.expires_at(next_tick_);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->stopped_) return;
      self->tick();
      self->next_tick_ += std::chrono::seconds(1);
      self->arm();
    });
  }

  void tick() {
    ++second_;
    const auto answered = run_.answered.load(std::memory_order_relaxed);
    char line[200];
    std::snprintf(line, sizeof line, "[%4llus] sent=%llu answered=%llu rps=%llu errors=%llu\n",
                  static_cast<unsigned long long>(second_),
                  static_cast<unsigned long long>(run_.sent.load(std::memory_order_relaxed)),
                  static_cast<unsigned long long>(answered),
                  static_cast<unsigned long long>(answered - last_answered_),
                  static_cast<unsigned long long>(run_.errors.load(std::memory_order_relaxed)));
    last_answered_ = answered;
    std::fputs(line, stderr);
  }

  Run& run_;
  net::steady_timer timer_;
  Clock::time_point next_tick_{};
  std::uint64_t second_ = 0;
  std::uint64_t last_answered_ = 0;
  bool stopped_ = false;
};

void raise_fd_limit(unsigned connections) {
  const rlim_t wanted = static_cast<rlim_t>(connections) + 64;
  if (const rlim_t have = raise_nofile(wanted); have < wanted) {
    std::cerr << "flashsale-loadgen: warning: open-file limit " << have << " is below " << wanted
              << "; some connections will fail\n";
  }
}

std::string random_run_id() {
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string("lg-") + buf + "-";
}

int run_load(const Options& opt) {
  raise_fd_limit(opt.connections);
  net::io_context ioc(static_cast<int>(opt.threads));

  const auto endpoint = resolve(ioc, opt.host, opt.port, "flashsale-loadgen");
  if (!endpoint) return kExitRunFailed;
  if (opt.create_item && !create_item(opt, *endpoint)) return kExitRunFailed;

  Run run;
  run.opt = opt;
  run.endpoint = *endpoint;
  run.host_header = opt.host + ":" + std::to_string(opt.port);
  for (const auto& item : opt.items) run.targets.push_back("/v1/items/" + item + "/orders");
  run.key_prefix = opt.key_prefix.empty() ? random_run_id() : opt.key_prefix;
  if (opt.requests > 0) run.limit = opt.requests;
  if (run.open_loop()) run.interval_ns = 1e9 / opt.rate;
  if (!opt.seed_given) run.opt.seed = std::random_device{}();

  std::vector<std::shared_ptr<Connection>> connections;
  connections.reserve(opt.connections);
  for (unsigned i = 0; i < opt.connections; ++i) {
    connections.push_back(std::make_shared<Connection>(ioc, run, i));
  }

  auto work = net::make_work_guard(ioc);

  // First SIGINT/SIGTERM: stop issuing, let answers in flight arrive, report as usual (a demo
  // crowd stopped with Ctrl-C still prints its figures). Second one: exit at once.
  net::signal_set signals(net::make_strand(ioc), SIGINT, SIGTERM);
  std::function<void(const beast::error_code&, int)> on_signal = [&](const beast::error_code& ec,
                                                                     int) {
    if (ec) return;
    if (run.interrupted.exchange(true)) std::_Exit(130);
    std::cerr << "flashsale-loadgen: interrupted; waiting for answers in flight (again to quit)\n";
    for (auto& c : connections) c->wake();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < opt.threads; ++i) {
    threads.emplace_back([&ioc] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          // A handler threw (it should not): report and keep the other connections going.
          std::cerr << "flashsale-loadgen: unexpected exception in I/O thread: " << e.what()
                    << "\n";
        }
      }
    });
  }

  // Phase 1: open every connection before the clock starts.
  run.pending_connects = opt.connections;
  for (auto& c : connections) c->warm_up();
  {
    std::unique_lock lock(run.mutex);
    run.cv.wait_for(lock, std::chrono::duration<double>(opt.connect_wait_s + 1),
                    [&] { return run.pending_connects.load() == 0; });
  }

  // Phase 2: the load.
  auto progress = std::make_shared<Progress>(ioc, run);
  run.t0 = Clock::now() + std::chrono::milliseconds(5);
  run.end = run.t0 + to_duration(opt.duration_s);
  run.deadline = run.end + to_duration(opt.drain_s);
  run.on_all_done = [progress, &signals] {
    progress->stop();
    net::post(signals.get_executor(), [&signals] { signals.cancel(); });
  };
  run.active = opt.connections;
  if (opt.progress) progress->start();
  for (auto& c : connections) c->start();
  work.reset();
  for (auto& t : threads) t.join();

  Stats total;
  for (const auto& c : connections) total.merge(c->stats());
  const auto finished = total.answered > 0 ? total.last_answer : Clock::now();
  const double seconds = std::max(0.0, std::chrono::duration<double>(finished - run.t0).count());

  print_summary(run, total, seconds);
  std::cout << report_json(run, total, seconds).dump() << std::endl;
  return total.answered > 0 ? kExitOk : kExitRunFailed;
}

// ---------------------------------------------------------------------------------------------
// Built-in checks (--self-test): the shared pieces, the outcome names, the argument parser.

int self_test() {
  Checks check;
  check_common(check);

  check(classify(202, R"({"id":"o1","status":"reserved"})") == "reserved", "reserved");
  check(classify(202, R"({"id":"o1","status":"waiting","waitlist_position":3})") == "waiting",
        "waiting");
  check(classify(409, R"({"error":"sold_out","message":"x"})") == "sold_out", "sold_out");
  check(classify(503, R"({"error":"overloaded"})") == "overloaded", "overloaded");
  check(classify(500, "<html>oops</html>") == "http_500", "non-JSON");
  check(classify(202, "") == "http_202", "empty body");
  check(classify(202, R"({"status":42})") == "http_202", "status not a string");
  check(classify(400, R"(["error"])") == "http_400", "JSON array");
  check(classify(409, R"({"error":"a b\n\"c"})") == "a?b??c", "sanitized");
  check(classify(202, std::string("{\"status\":\"") + std::string(500, 'x') + "\"}").size() == 48,
        "long code truncated");

  check(parses(parse_options, {"--port", "80"}), "minimal args");
  check(parses(parse_options, {"--port=80", "--rate=100.5", "--duration", "2"}), "inline values");
  check(!parses(parse_options, {}), "missing --port");
  check(!parses(parse_options, {"--port", "x"}), "bad number");
  check(!parses(parse_options, {"--port", "80", "--bogus"}), "unknown flag");
  check(!parses(parse_options, {"--port", "80", "--create-item", "a"}),
        "create-item without stock");
  check(!parses(parse_options, {"--port", "80", "--item", "Bad!"}), "bad item id");
  check(!parses(parse_options, {"--port", "80", "--item", "a,,b"}), "empty item in a list");
  check(!parses(parse_options, {"--port", "80", "--item", "a,"}), "trailing comma");
  check(!parses(parse_options, {"--port", "80", "--item", "a,B"}), "bad id in a list");
  check(!parses(parse_options, {"--port", "80", "--connections"}), "missing value");
  check(!parses(parse_options, {"--port", "80", "--user-mode", "random"}), "random without users");
  {
    const auto o = parse_options({"--port", "80", "--create-item", "hot-1", "--stock", "5"});
    check(o.item == "hot-1" && o.duration_s == 10, "defaults follow --create-item");
    check(o.items == std::vector<std::string>{"hot-1"}, "one item");
    const auto m = parse_options({"--port", "80", "--item", "a,b-2,a"});
    check((m.items == std::vector<std::string>{"a", "b-2", "a"}), "an item list, repeats kept");
    const auto r = parse_options({"--port", "80", "--requests", "7"});
    check(r.duration_s == 300, "--requests alone has a safety duration");
  }
  {
    Run run;
    run.opt.users = 3;
    std::mt19937_64 rng(1);
    check(run.user_for(4, rng) == "user-1", "round-robin users");
    run.opt.users = 0;
    check(run.user_for(4, rng) == "user-4", "one user per request");
  }

  std::cerr << (check.passed() ? "self-test: all checks passed\n" : "self-test: FAILED\n");
  return check.passed() ? kExitOk : kExitRunFailed;
}

}  // namespace
}  // namespace flashsale::bench

int main(int argc, char** argv) {
  using namespace flashsale::bench;
  return tool_main("flashsale-loadgen", kUsage, argc, argv, parse_options, self_test, run_load);
}
