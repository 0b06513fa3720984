// flashsale-wsbench: many WebSocket clients of the public user stream (GET /v1/stream) that
// measure, for every frame, the time from its transaction's commit to the frame's arrival here
// (issue 6; see bench/README.md, "Push fan-out").
//
// Opens --connections N WebSockets as users <prefix>0 .. <prefix>(N-1) (identity header
// X-User-Id), at most --connect-rate new ones a second and --max-pending unfinished at a time;
// a connection counts as connected once its first frame, {"type":"stream.ready",...}, has
// arrived. Then, for every event frame:
//   latency = local receive time - committed_at
// (both clocks are this machine's; committed_at carries milliseconds and is truncated, so each
// figure is 0 to 1 ms above the truth), the frame's user_id must be the connection's user
// (a mismatch is counted), and per connection the event ids must increase (a user's events
// arrive in commit order). Frames are parsed cheaply: one pass over the top-level members, no
// JSON tree, since the client shares the machine with the server and PostgreSQL.
//
// Output: connect progress and one line per second on stderr, a summary on stderr, one JSON
// line on stdout.

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/cli.hpp"
#include "common/net.hpp"
#include "common/report.hpp"
#include "common/self_test.hpp"
#include "common/timing.hpp"

namespace flashsale::bench {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

// Exit codes (common/cli.hpp): 1 when set-up failed, or not a single connection came up.

constexpr std::size_t kMaxKinds = 32;  // a misbehaving server cannot blow up the report
constexpr std::size_t kMaxFrameBytes = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Options

/// --connect-timeout bounds the TCP connect, then the WebSocket handshake; --duration counts
/// after the connect phase; --ready-file is written when the connect phase is over.
struct Options : StreamOptions {
  Options() : StreamOptions("/v1/stream") {}

  std::uint32_t connections = 10000;
  std::string user_prefix = "ws-";
  std::string user_header = "X-User-Id";
  unsigned threads = 1;
  double connect_rate = 2000;       // new connection attempts per second
  std::uint32_t max_pending = 256;  // attempts under way (connect, handshake, first frame)
  std::uint32_t retries = 3;        // per connection, after a failed attempt
  double ramp_timeout_s = 300;      // the whole connect phase
  double warmup_s = 0;              // or --measure-from: the first S seconds of the load
  bool load_on_usr2 = false;        // the load starts at SIGUSR2 (else: at the connect phase's end)
};

constexpr std::string_view kUsage = R"(usage: flashsale-wsbench --port P [options]

Opens N WebSockets to ws://HOST:P/v1/stream as users PREFIX0 .. PREFIX(N-1), waits until
each got its stream.ready frame, then for every event frame records latency = local receive
time - committed_at (millisecond precision: figures are 0-1 ms above the truth), checks that
the frame's user_id is the connection's user and that each connection's event ids increase.
Prints connect progress and a summary on stderr and one JSON line on stdout.

target
  --host H              public listener address (default 127.0.0.1)
  --port P              public listener port (required)
  --path P              stream path (default /v1/stream)
connections
  --connections N       WebSockets to open (default 10000)
  --user-prefix P       users are P0 .. P(N-1) (default "ws-")
  --user-header H       identity header (default X-User-Id)
  --threads T           I/O threads (default 1)
  --connect-rate R      new connection attempts per second (default 2000)
  --max-pending K       attempts under way at a time (default 256)
  --retries K           new attempts after a failed one, per connection (default 3)
  --connect-timeout S   TCP connect, and the WebSocket handshake, each within S s (default 10)
  --ramp-timeout S      the connect phase ends after S s even if some are missing (default 300)
when to stop (whichever comes first; SIGINT/SIGTERM also stop and report)
  --duration S          S seconds after the connect phase (default 60)
  --idle S              after S seconds without a frame (or without any since the start)
  --idle-after-usr1     with --idle: the silence counts only once SIGUSR1 arrived
bookkeeping (frames received during the connect phase are never measured)
  --measure-from T      frames committed before T (unix seconds, e.g. 1795514400.25) are a
                        warm-up: checked, counted apart, not in the figures
  --warmup S            instead: frames committed in the first S s of the load are a warm-up;
                        the load starts when the connect phase ends, or with
  --load-on-usr2        at SIGUSR2 ("the load starts now"; frames before it are a warm-up)
  --ready-file F        write F ("connected=N failed=M") when the connect phase is over
output
  --progress            one line per second on stderr
  --self-test           run the built-in checks and exit
  --help                this text
)";

Options parse_options(const std::vector<std::string>& args) {
  Options o;
  for (Args a(args); a.next();) {
    if (stream_flag(a, o)) continue;
    const auto& flag = a.flag();
    if (flag == "--connections") {
      o.connections = a.number<std::uint32_t>();
      if (o.connections < 1 || o.connections > 200000)
        throw UsageError{"--connections: must be 1..200000"};
    } else if (flag == "--user-prefix") {
      o.user_prefix = a.value();
    } else if (flag == "--user-header") {
      o.user_header = a.value();
    } else if (flag == "--threads") {
      o.threads = a.number<unsigned>();
      if (o.threads < 1 || o.threads > 64) throw UsageError{"--threads: must be 1..64"};
    } else if (flag == "--connect-rate") {
      o.connect_rate = a.real(1, 1e6);
    } else if (flag == "--max-pending") {
      o.max_pending = a.number<std::uint32_t>();
      if (o.max_pending < 1) throw UsageError{"--max-pending: must be >= 1"};
    } else if (flag == "--retries") {
      o.retries = a.number<std::uint32_t>();
      if (o.retries > 100) throw UsageError{"--retries: must be 0..100"};
    } else if (flag == "--ramp-timeout") {
      o.ramp_timeout_s = a.real(0.001, 86400);
    } else if (flag == "--warmup") {
      o.warmup_s = a.real(0, 86400);
    } else if (flag == "--load-on-usr2") {
      o.load_on_usr2 = a.set();
    } else {
      throw a.unknown();
    }
  }
  if (!run_wanted(o)) return o;
  if (o.measure_from_us != 0 && (o.warmup_s > 0 || o.load_on_usr2))
    throw UsageError{"--measure-from does not combine with --warmup or --load-on-usr2"};
  if (o.user_prefix.empty() || !printable_token(o.user_prefix) || o.user_prefix.size() > 200)
    throw UsageError{"--user-prefix: 1-200 printable characters, no spaces"};
  if (o.user_header.empty() || !printable_token(o.user_header))
    throw UsageError{"--user-header: printable characters, no spaces"};
  return o;
}

// ---------------------------------------------------------------------------------------------
// Parsing a frame: the top-level string members of a JSON object, nothing else

/// The members of an event frame this client looks at (views into the frame's text; a value
/// with escapes is kept escaped, which none of these should have).
struct Envelope {
  std::string_view type, committed_at, user_id, event_id;
};

/// One pass over a JSON object: its top-level string members of interest are kept, every
/// other value (nested objects and arrays included) is skipped. False when the text is not a
/// JSON object of that shape (the value syntax inside skipped values is not validated).
bool scan_envelope(std::string_view s, Envelope& out) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  auto skip_ws = [&] {
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  };
  // At an opening quote: moves past the closing one; the contents, escapes undone not.
  auto read_string = [&](std::string_view& text) {
    if (i >= n || s[i] != '"') return false;
    const std::size_t start = ++i;
    while (i < n && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
    if (i >= n) return false;
    text = s.substr(start, i - start);
    ++i;
    return true;
  };
  // Any value that is not wanted: strings, nested containers (bracket depth, strings
  // respected), or a literal/number up to the next ',' or '}'.
  auto skip_value = [&] {
    if (i >= n) return false;
    std::string_view ignored;
    if (s[i] == '"') return read_string(ignored);
    if (s[i] == '{' || s[i] == '[') {
      int depth = 0;
      while (i < n) {
        const char c = s[i];
        if (c == '"') {
          if (!read_string(ignored)) return false;
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') --depth;
        ++i;
        if (depth == 0) return true;
      }
      return false;
    }
    const std::size_t start = i;
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ' ' && s[i] != '\n') ++i;
    return i > start;
  };

  out = Envelope{};
  skip_ws();
  if (i >= n || s[i] != '{') return false;
  ++i;
  skip_ws();
  if (i < n && s[i] == '}') {
    ++i;
    skip_ws();
    return i == n;
  }
  for (;;) {
    std::string_view key;
    skip_ws();
    if (!read_string(key)) return false;
    skip_ws();
    if (i >= n || s[i] != ':') return false;
    ++i;
    skip_ws();
    std::string_view* wanted = nullptr;
    if (key == "type") wanted = &out.type;
    if (key == "committed_at") wanted = &out.committed_at;
    if (key == "user_id") wanted = &out.user_id;
    if (key == "event_id") wanted = &out.event_id;
    if (wanted && i < n && s[i] == '"') {
      if (!read_string(*wanted)) return false;
    } else if (!skip_value()) {
      return false;
    }
    skip_ws();
    if (i >= n) return false;
    if (s[i] == ',') {
      ++i;
      continue;
    }
    if (s[i] != '}') return false;
    ++i;
    skip_ws();
    return i == n;
  }
}

/// An event's place in the log, from its id "<hi>/<lo>/<index>" (hex, hex, decimal).
struct Position {
  std::uint64_t lsn = 0;
  std::uint32_t index = 0;
  auto operator<=>(const Position&) const = default;
};

std::optional<Position> parse_event_id(std::string_view id) {
  const auto a = id.find('/');
  const auto b = a == std::string_view::npos ? a : id.find('/', a + 1);
  if (b == std::string_view::npos || a == 0 || b == a + 1 || b + 1 == id.size() || a > 8 ||
      b - a - 1 > 8) {
    return std::nullopt;
  }
  std::uint32_t hi = 0, lo = 0, index = 0;
  auto whole = [](std::string_view t, std::uint32_t& v, int base) {
    const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v, base);
    return ec == std::errc() && p == t.data() + t.size();
  };
  if (!whole(id.substr(0, a), hi, 16) || !whole(id.substr(a + 1, b - a - 1), lo, 16) ||
      !whole(id.substr(b + 1), index, 10)) {
    return std::nullopt;
  }
  return Position{(static_cast<std::uint64_t>(hi) << 32) | lo, index};
}

std::string sanitize(std::string_view text, std::size_t max = 100) {
  std::string out;
  for (char c : text.substr(0, max)) out.push_back(c >= ' ' && c < 127 && c != '"' ? c : '?');
  return out;
}

/// This process's peak RSS in MiB.
double own_max_rss_mib() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// ---------------------------------------------------------------------------------------------
// The bookkeeping of received frames, independent of the network (so --self-test can drive
// it). Not thread-safe: the caller holds a lock.

class Tally {
 public:
  enum class Phase { connecting, measuring };
  enum class Seen { measured, warmup, early, ignored };

  explicit Tally(std::int64_t measure_from_us = 0) : measure_from_us_(measure_from_us) {}

  void set_measure_from(std::int64_t unix_us) { measure_from_us_ = unix_us; }

  /// An event frame for `user`, received at `recv_us` (unix µs); `last` is the connection's
  /// newest position so far (updated).
  Seen frame(std::string_view text, std::string_view user, std::optional<Position>& last,
             std::int64_t recv_us, Phase phase) {
    ++received_;
    bytes_ += text.size();
    Envelope e;
    if (!scan_envelope(text, e) || e.type.empty()) return malformed("not a JSON object with type");
    if (e.type == "stream.ready") {
      ++extra_hellos_;
      return Seen::ignored;
    }
    if (e.committed_at.empty() || e.event_id.empty()) return malformed("no committed_at/event_id");
    const auto commit = parse_rfc3339(e.committed_at);
    if (!commit) return malformed("committed_at is not RFC 3339");
    if (e.user_id != user) {
      ++mismatches_;
      if (first_mismatch_.empty()) {
        first_mismatch_ =
            "user_id '" + sanitize(e.user_id) + "' on the connection of '" + sanitize(user) + "'";
      }
    }
    if (const auto at = parse_event_id(e.event_id); !at) {
      ++bad_ids_;
    } else {
      if (last && *at <= *last) {
        ++(*at == *last ? duplicates_ : out_of_order_);
      } else {
        last = *at;
      }
    }
    count_into(types_, e.type, kMaxKinds);
    std::int64_t latency = recv_us - commit->unix_us;
    if (latency < 0) {
      ++negative_;
      latency = 0;
    }
    const auto micros = static_cast<std::uint64_t>(latency);
    const bool early = phase == Phase::connecting;
    const bool warmup = !early && commit->unix_us < measure_from_us_;
    second_.record(micros, early || warmup);
    if (early) {
      ++early_;
      return Seen::early;
    }
    if (warmup) {
      ++warmup_;
      return Seen::warmup;
    }
    latency_.record(micros);
    ++frames_;
    if (frames_ == 1) first_recv_us_ = recv_us;
    if (frames_ > 1) max_gap_us_ = std::max(max_gap_us_, recv_us - last_recv_us_);
    last_recv_us_ = std::max(last_recv_us_, recv_us);
    return Seen::measured;
  }

  void closed(std::string_view reason) {
    ++closed_;
    count_into(close_reasons_, reason, kMaxKinds);
  }
  void connect_error(std::string_view kind) { count_into(connect_errors_, kind, kMaxKinds); }
  void hello_mismatch() { ++hello_mismatches_; }

  /// Ends the current one-second interval (early and warm-up frames count as warm-up).
  PerSecond::Interval roll_second() { return second_.roll(); }

  /// Seconds from the first to the last measured frame.
  [[nodiscard]] double seconds() const {
    return frames_ > 1 ? static_cast<double>(last_recv_us_ - first_recv_us_) / 1e6 : 0.0;
  }

  [[nodiscard]] nlohmann::ordered_json report() const {
    const double secs = seconds();
    nlohmann::ordered_json report = {
        {"frames", frames_},
        {"seconds", round_to(secs, 3)},
        {"frames_per_s", secs > 0 ? round_to(static_cast<double>(frames_) / secs, 1) : 0.0},
    };
    report.update(latency_json(latency_));
    report.update({
        {"min_ms", to_ms(latency_.min())},
        {"worst_second_p99_ms", to_ms(second_.worst_p99_us())},
        {"max_gap_ms", round_to(static_cast<double>(max_gap_us_) / 1000.0, 3)},
        {"warmup_frames", warmup_},
        {"early_frames", early_},
        {"received_frames", received_},
        {"bytes", bytes_},
        {"user_mismatches", mismatches_},
        {"first_mismatch", first_mismatch_},
        {"hello_user_mismatches", hello_mismatches_},
        {"duplicates", duplicates_},
        {"out_of_order", out_of_order_},
        {"malformed", malformed_},
        {"first_malformed", first_malformed_},
        {"ids_not_lsn_index", bad_ids_},
        {"extra_hellos", extra_hellos_},
        {"negative_latencies", negative_},
        {"types", to_json(types_)},
        {"closed_by_server", closed_},
        {"close_reasons", to_json(close_reasons_)},
        {"connect_errors", to_json(connect_errors_)},
        {"committed_at_resolution_ms", 1.0},
    });
    return report;
  }

  [[nodiscard]] const LatencyHistogram& latency() const { return latency_; }
  [[nodiscard]] std::uint64_t frames() const { return frames_; }
  [[nodiscard]] std::uint64_t received() const { return received_; }
  [[nodiscard]] std::uint64_t mismatches() const { return mismatches_; }
  [[nodiscard]] std::uint64_t duplicates() const { return duplicates_; }
  [[nodiscard]] std::uint64_t out_of_order() const { return out_of_order_; }
  [[nodiscard]] std::uint64_t malformed_count() const { return malformed_; }
  [[nodiscard]] std::uint64_t negative() const { return negative_; }
  [[nodiscard]] std::uint64_t warmup() const { return warmup_; }
  [[nodiscard]] std::uint64_t early() const { return early_; }
  [[nodiscard]] std::uint64_t closed_count() const { return closed_; }
  [[nodiscard]] const Counts& types() const { return types_; }
  [[nodiscard]] const Counts& close_reasons() const { return close_reasons_; }
  [[nodiscard]] const Counts& connect_errors() const { return connect_errors_; }

 private:
  Seen malformed(const char* why) {
    ++malformed_;
    if (first_malformed_.empty()) first_malformed_ = why;
    return Seen::ignored;
  }

  std::int64_t measure_from_us_ = 0;
  LatencyHistogram latency_;
  PerSecond second_;
  std::uint64_t received_ = 0, bytes_ = 0, frames_ = 0, warmup_ = 0, early_ = 0;
  std::uint64_t mismatches_ = 0, hello_mismatches_ = 0, duplicates_ = 0, out_of_order_ = 0;
  std::uint64_t malformed_ = 0, bad_ids_ = 0, extra_hellos_ = 0, negative_ = 0, closed_ = 0;
  std::int64_t first_recv_us_ = 0, last_recv_us_ = 0, max_gap_us_ = 0;
  std::string first_mismatch_, first_malformed_;
  Counts types_, close_reasons_, connect_errors_;
};

// ---------------------------------------------------------------------------------------------
// The clients

class Bench;

/// One attempt at one user's stream. A failed attempt is not reused: a retry is a new Conn.
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(Bench& bench, net::io_context& ioc, std::uint32_t index, std::string user)
      : bench_(bench), index_(index), user_(std::move(user)), ws_(net::make_strand(ioc)) {}

  void start(const tcp::endpoint& endpoint, const Options& opt);

 private:
  void handshake(const Options& opt);
  void read();
  void on_read(beast::error_code ec, std::int64_t recv_us);
  void give_up(const std::string& kind);

  Bench& bench_;
  const std::uint32_t index_;
  const std::string user_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  bool ready_ = false;
  std::optional<Position> last_;
};

class Bench {
 public:
  Bench(net::io_context& ioc, const Options& opt, tcp::endpoint endpoint)
      : ioc_(ioc),
        opt_(opt),
        endpoint_(std::move(endpoint)),
        control_(net::make_strand(ioc)),
        ramp_timer_(control_),
        tick_(control_),
        deadline_(control_),
        signals_(control_, SIGINT, SIGTERM),
        usr1_(control_, SIGUSR1),
        usr2_(control_, SIGUSR2),
        tally_(opt.measure_from_us),
        attempts_(opt.connections, 0) {}

  void start() {
    net::dispatch(control_, [this] {
      started_ = Clock::now();
      last_frame_ns_ = started_.time_since_epoch().count();
      next_second_ = started_ + std::chrono::seconds(1);
      cpu_at_second_ = own_cpu_seconds();
      signals_.async_wait([this](beast::error_code ec, int) {
        if (!ec) stop("signal");
      });
      arm_usr1();
      arm_usr2();
      deadline_.expires_after(to_duration(opt_.ramp_timeout_s));
      deadline_.async_wait([this](beast::error_code ec) {
        if (!ec && !measuring_) end_ramp(true);
      });
      std::cerr << "flashsale-wsbench: opening " << opt_.connections << " WebSockets to ws://"
                << opt_.host << ":" << opt_.port << opt_.path << " as " << opt_.user_prefix
                << "0 .. " << opt_.user_prefix << (opt_.connections - 1) << ", "
                << opt_.connect_rate << "/s, at most " << opt_.max_pending << " pending\n";
      ramp();
      arm_tick();
    });
  }

  // From the connections' strands.
  void connected(bool hello_user_ok) {
    if (!hello_user_ok) {
      std::lock_guard lock(mutex_);
      tally_.hello_mismatch();
    }
    net::post(control_, [this] {
      --pending_;
      ++connected_;
      ++open_;
      check_ramp_done();
    });
  }
  void attempt_failed(std::uint32_t index, const std::string& kind) {
    {
      std::lock_guard lock(mutex_);
      tally_.connect_error(kind);
    }
    net::post(control_, [this, index] {
      --pending_;
      if (stopped_) return;
      // Once the connect phase is over, a failed attempt is not retried.
      if (!measuring_ && attempts_[index] <= opt_.retries) {
        retry_queue_.push_back({index, Clock::now() + std::chrono::milliseconds(500)});
        ++retried_;
      } else {
        ++failed_;
        check_ramp_done();
      }
    });
  }
  void closed(const std::string& reason) {
    if (stopped_.load()) return;
    {
      std::lock_guard lock(mutex_);
      tally_.closed(reason);
    }
    net::post(control_, [this] {
      --open_;
      if (measuring_ && open_ == 0) stop("all_closed");  // nothing left to measure
    });
  }
  void frame(std::string_view text, std::string_view user, std::optional<Position>& last,
             std::int64_t recv_us) {
    last_frame_ns_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    tally_.frame(text, user, last, recv_us,
                 measuring_.load(std::memory_order_relaxed) ? Tally::Phase::measuring
                                                            : Tally::Phase::connecting);
  }

  [[nodiscard]] bool stopped() const { return stopped_.load(); }
  [[nodiscard]] bool failed_run() const { return failed_run_; }

  /// After the io_context has stopped: everything for the report.
  nlohmann::ordered_json report() {
    std::lock_guard lock(mutex_);
    nlohmann::ordered_json r = {
        {"connections", opt_.connections},
        {"connected", connected_},
        {"connect_failed", failed_},
        {"pending_at_ramp_end", pending_at_ramp_end_},
        {"connect_retries", retried_},
        {"ramp_s", round_to(ramp_s_, 3)},
        {"open_at_end", open_},
    };
    r.update(tally_.report());
    r["stopped_by"] = stopped_by_;
    r["threads"] = opt_.threads;
    r["wsbench_cpu_s"] = round_to(own_cpu_seconds(), 2);
    r["wsbench_max_rss_mib"] = round_to(own_max_rss_mib(), 1);
    return r;
  }

  void print_summary() {
    std::lock_guard lock(mutex_);
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(1);
    s << "flashsale-wsbench: ws://" << opt_.host << ":" << opt_.port << opt_.path << ", stopped by "
      << stopped_by_ << "\n  connections " << connected_ << " of " << opt_.connections
      << " connected in " << ramp_s_ << " s (" << failed_ << " failed, " << retried_ << " retries, "
      << pending_at_ramp_end_ << " still pending at the end of the ramp); " << open_
      << " open at the end, " << tally_.closed_count() << " closed by the server\n";
    const double secs = tally_.seconds();
    s << "  frames      " << tally_.frames() << " in " << secs
      << " s (first to last) = " << (secs > 0 ? static_cast<double>(tally_.frames()) / secs : 0.0)
      << " frames/s; plus " << tally_.warmup() << " warm-up and " << tally_.early()
      << " during the connect phase, not measured\n";
    s.precision(3);
    s << "  commit -> frame ms  " << Percentiles{tally_.latency()}
      << "\n              (committed_at has millisecond precision, truncated: figures are 0-1 ms "
         "above the true latency)\n";
    s << "  checks      user_id mismatches " << tally_.mismatches() << ", duplicates "
      << tally_.duplicates() << ", out of order " << tally_.out_of_order() << ", malformed "
      << tally_.malformed_count() << ", negative latencies " << tally_.negative() << "\n";
    auto counts = [&](const char* what, const Counts& c) {
      s << "  " << what;
      if (c.empty()) s << " none";
      for (const auto& [k, v] : c) s << " [" << k << "]=" << v;
      s << "\n";
    };
    counts("types      ", tally_.types());
    counts("closes     ", tally_.close_reasons());
    counts("conn errors", tally_.connect_errors());
    s.precision(2);
    s << "  wsbench     " << own_cpu_seconds() << " CPU s, peak RSS " << own_max_rss_mib()
      << " MiB, " << opt_.threads << " thread(s)\n";
    std::cerr << s.str();
  }

 private:
  struct Retry {
    std::uint32_t index;
    Clock::time_point due;
  };

  std::string user_of(std::uint32_t index) const {
    return opt_.user_prefix + std::to_string(index);
  }

  // Starts as many attempts as the rate and the pending bound allow; every 5 ms until all
  // connections were started.
  void ramp() {
    if (stopped_ || measuring_) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    const auto allowed = static_cast<std::uint64_t>(elapsed * opt_.connect_rate) + 1;
    const auto now = Clock::now();
    while (pending_ < opt_.max_pending && launched_ < allowed) {
      std::uint32_t index = 0;
      if (!retry_queue_.empty() && retry_queue_.front().due <= now) {
        index = retry_queue_.front().index;
        retry_queue_.pop_front();
      } else if (next_fresh_ < opt_.connections) {
        index = next_fresh_++;
      } else {
        break;
      }
      ++launched_;
      ++pending_;
      ++attempts_[index];
      std::make_shared<Conn>(*this, ioc_, index, user_of(index))->start(endpoint_, opt_);
    }
    if (next_fresh_ < opt_.connections || !retry_queue_.empty() || pending_ > 0) {
      ramp_timer_.expires_after(std::chrono::milliseconds(5));
      ramp_timer_.async_wait([this](beast::error_code ec) {
        if (!ec) ramp();
      });
    }
  }

  void check_ramp_done() {
    if (!measuring_ && connected_ + failed_ >= opt_.connections) end_ramp(false);
  }

  void end_ramp(bool timed_out) {
    if (measuring_ || stopped_) return;
    measuring_ = true;
    measure_start_ = Clock::now();
    ramp_s_ = std::chrono::duration<double>(measure_start_ - started_).count();
    pending_at_ramp_end_ = pending_;
    std::cerr << "flashsale-wsbench: " << connected_ << " of " << opt_.connections
              << " connected in " << round_to(ramp_s_, 2) << " s (" << failed_ << " failed, "
              << retried_ << " retries"
              << (timed_out ? ", ramp timeout: " + std::to_string(pending_) + " still pending"
                            : std::string())
              << "); measuring for at most " << opt_.duration_s << " s\n";
    if (!opt_.ready_file.empty()) {
      std::ofstream(opt_.ready_file) << "connected=" << connected_ << " failed=" << failed_
                                     << " pending=" << pending_ << " ramp_s=" << ramp_s_ << "\n";
    }
    if (connected_ == 0) {
      failed_run_ = true;
      return stop("no_connection");
    }
    if (opt_.load_on_usr2 && !load_started_) {
      std::lock_guard lock(mutex_);
      tally_.set_measure_from(INT64_MAX);  // all warm-up until SIGUSR2
    } else if (opt_.warmup_s > 0 && !load_started_) {
      load_started_ = true;
      start_load_clock("end of the connect phase");
    }
    deadline_.expires_after(to_duration(opt_.duration_s));
    deadline_.async_wait([this](beast::error_code ec) {
      if (!ec) stop("duration");
    });
  }

  void arm_usr1() {
    usr1_.async_wait([this](beast::error_code ec, int) {
      if (ec) return;
      if (!idle_armed_) {
        idle_armed_ = true;
        idle_armed_at_ = Clock::now();
        std::cerr << "flashsale-wsbench: SIGUSR1: stopping after " << opt_.idle_s
                  << " s without a frame\n";
      }
      arm_usr1();
    });
  }

  // SIGUSR2: the load starts now; frames committed in the next --warmup seconds are a warm-up.
  void arm_usr2() {
    usr2_.async_wait([this](beast::error_code ec, int) {
      if (ec) return;
      if (opt_.load_on_usr2 && !load_started_) {
        load_started_ = true;
        start_load_clock("SIGUSR2");
      }
      arm_usr2();
    });
  }

  void start_load_clock(const char* why) {
    const auto from = unix_now_us() + static_cast<std::int64_t>(std::llround(opt_.warmup_s * 1e6));
    {
      std::lock_guard lock(mutex_);
      tally_.set_measure_from(from);
    }
    char line[200];
    std::snprintf(line, sizeof line,
                  "flashsale-wsbench: %s: the load starts; frames committed from %.3f on are "
                  "measured (%.1f s warm-up)\n",
                  why, static_cast<double>(from) / 1e6, opt_.warmup_s);
    std::fputs(line, stderr);
  }

  void arm_tick() {
    tick_.expires_after(std::chrono::milliseconds(100));
    tick_.async_wait([this](beast::error_code ec) {
      if (ec || stopped_) return;
      on_tick();
      if (!stopped_) arm_tick();
    });
  }

  void on_tick() {
    const auto now = Clock::now();
    if (measuring_ && opt_.idle_s > 0 && (!opt_.idle_after_usr1 || idle_armed_)) {
      auto since = Clock::time_point(Clock::duration(last_frame_ns_.load()));
      if (opt_.idle_after_usr1) since = std::max(since, idle_armed_at_);
      if (now - since >= to_duration(opt_.idle_s)) return stop("idle");
    }
    while (now >= next_second_) {
      next_second_ += std::chrono::seconds(1);
      ++second_no_;
      PerSecond::Interval i{};
      std::uint64_t closed = 0, mismatches = 0;
      {
        std::lock_guard lock(mutex_);
        i = tally_.roll_second();
        closed = tally_.closed_count();
        mismatches = tally_.mismatches();
      }
      const double cpu = own_cpu_seconds();
      const double cpu_share = cpu - cpu_at_second_;
      cpu_at_second_ = cpu;
      if (!opt_.progress && measuring_) continue;
      char line[300];
      if (!measuring_) {
        std::snprintf(line, sizeof line,
                      "[ramp %3llus] connected=%llu/%u pending=%llu failed=%llu retries=%llu "
                      "cpu=%.2f\n",
                      static_cast<unsigned long long>(second_no_),
                      static_cast<unsigned long long>(connected_), opt_.connections,
                      static_cast<unsigned long long>(pending_),
                      static_cast<unsigned long long>(failed_),
                      static_cast<unsigned long long>(retried_), cpu_share);
      } else {
        std::snprintf(
            line, sizeof line,
            "[%4llus] open=%llu frames/s=%llu p50=%.1fms p99=%.1fms max=%.1fms "
            "closed=%llu mismatches=%llu cpu=%.2f%s\n",
            static_cast<unsigned long long>(second_no_), static_cast<unsigned long long>(open_),
            static_cast<unsigned long long>(i.count), to_ms(i.p50_us), to_ms(i.p99_us),
            to_ms(i.max_us), static_cast<unsigned long long>(closed),
            static_cast<unsigned long long>(mismatches), cpu_share, i.warmup ? " (warm-up)" : "");
      }
      std::fputs(line, stderr);
    }
  }

  void stop(std::string why) {
    if (stopped_) return;
    stopped_ = true;
    if (!measuring_) ramp_s_ = std::chrono::duration<double>(Clock::now() - started_).count();
    {
      std::lock_guard lock(mutex_);
      stopped_by_ = std::move(why);
    }
    // Whatever is in flight is abandoned: the process exits right after the report, and the
    // kernel closes the sockets.
    ioc_.stop();
  }

  net::io_context& ioc_;
  const Options& opt_;
  const tcp::endpoint endpoint_;
  net::strand<net::io_context::executor_type> control_;
  net::steady_timer ramp_timer_;
  net::steady_timer tick_;
  net::steady_timer deadline_;
  net::signal_set signals_;
  net::signal_set usr1_;
  net::signal_set usr2_;

  std::mutex mutex_;  // tally_, stopped_by_
  Tally tally_;
  std::string stopped_by_;

  // On the control strand.
  std::vector<std::uint8_t> attempts_;
  std::deque<Retry> retry_queue_;
  std::uint32_t next_fresh_ = 0;
  std::uint64_t launched_ = 0, pending_ = 0, connected_ = 0, failed_ = 0, retried_ = 0, open_ = 0;
  std::uint64_t pending_at_ramp_end_ = 0;
  Clock::time_point started_{}, measure_start_{}, next_second_{}, idle_armed_at_{};
  double ramp_s_ = 0, cpu_at_second_ = 0;
  std::uint64_t second_no_ = 0;
  bool idle_armed_ = false;
  bool load_started_ = false;
  bool failed_run_ = false;

  std::atomic<bool> measuring_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<Clock::rep> last_frame_ns_{0};
};

void Conn::start(const tcp::endpoint& endpoint, const Options& opt) {
  auto& stream = beast::get_lowest_layer(ws_);
  stream.expires_after(to_duration(opt.connect_timeout_s));
  stream.async_connect(endpoint, [self = shared_from_this(), &opt](beast::error_code ec) {
    if (ec) return self->give_up("connect: " + ec.message());
    self->handshake(opt);
  });
}

void Conn::handshake(const Options& opt) {
  beast::get_lowest_layer(ws_).expires_never();  // the WebSocket's own timeouts from here on
  auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
  timeouts.handshake_timeout = to_duration(opt.connect_timeout_s);
  ws_.set_option(timeouts);
  ws_.read_message_max(kMaxFrameBytes);
  ws_.set_option(websocket::stream_base::decorator(
      [header = opt.user_header, user = user_](websocket::request_type& req) {
        req.set(header, user);
        req.set(beast::http::field::user_agent, "flashsale-wsbench");
      }));
  const std::string host = opt.host + ":" + std::to_string(opt.port);
  ws_.async_handshake(host, opt.path, [self = shared_from_this()](beast::error_code ec) {
    if (ec) return self->give_up("handshake: " + ec.message());
    self->read();
  });
}

void Conn::read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    const std::int64_t recv_us = unix_now_us();  // first thing: the arrival time
    self->on_read(ec, recv_us);
  });
}

void Conn::on_read(beast::error_code ec, std::int64_t recv_us) {
  if (bench_.stopped()) return;
  if (ec) {
    std::string why;
    if (ec == websocket::error::closed) {
      const auto& r = ws_.reason();
      why = "close " + std::to_string(r.code) +
            (r.reason.empty() ? std::string() : " " + sanitize(r.reason.c_str(), 80));
    } else {
      why = "read: " + ec.message();
    }
    if (!ready_) return give_up("first frame: " + why);
    return bench_.closed(why);
  }
  const auto data = buffer_.cdata();
  const std::string_view text(static_cast<const char*>(data.data()), data.size());
  if (!ready_) {
    Envelope e;
    if (!ws_.got_text() || !scan_envelope(text, e) || e.type != "stream.ready") {
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).socket().close(ignored);
      return give_up("first frame: not stream.ready");
    }
    ready_ = true;
    bench_.connected(e.user_id == user_);
  } else if (ws_.got_text()) {
    bench_.frame(text, user_, last_, recv_us);
  }
  buffer_.consume(buffer_.size());
  read();
}

void Conn::give_up(const std::string& kind) { bench_.attempt_failed(index_, kind); }

int run(const Options& opt) {
  const rlim_t wanted = opt.connections + 128;
  const rlim_t have = raise_nofile(wanted);
  if (have < wanted) {
    std::cerr << "flashsale-wsbench: RLIMIT_NOFILE is " << have << ", " << wanted << " needed for "
              << opt.connections << " connections (raise it with ulimit -n, or run as root)\n";
    return kExitRunFailed;
  }
  net::io_context ioc(static_cast<int>(opt.threads));
  const auto endpoint = resolve(ioc, opt.host, opt.port, "flashsale-wsbench");
  if (!endpoint) return kExitRunFailed;
  Bench bench(ioc, opt, *endpoint);
  bench.start();
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < opt.threads; ++t) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();

  bench.print_summary();
  // Text from the server is ASCII-sanitized already; replace anything else rather than throw.
  std::cout << bench.report().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
            << std::endl;
  return bench.failed_run() ? kExitRunFailed : kExitOk;
}

// ---------------------------------------------------------------------------------------------
// Built-in checks (--self-test): the shared pieces, frame scanning, id parsing, the bookkeeping,
// the argument parser.

int self_test() {
  Checks check;
  check_common(check);

  // Frames.
  {
    Envelope e;
    const std::string frame =
        R"({"committed_at":"2026-11-24T07:43:47.963Z","data":{"payment_link":"https://x/\"q\"",)"
        R"("type":"nested","user_id":"nested","list":[{"a":"}"}]},"event_id":"0/16B3748/2",)"
        R"("item_id":"ws","lsn":"0/16B3748","order_id":"o1","type":"payment_link.ready",)"
        R"("user_id":"ws-7","n":12.5,"b":true,"z":null})";
    check(scan_envelope(frame, e), "frame scans");
    check(e.type == "payment_link.ready" && e.user_id == "ws-7" &&
              e.committed_at == "2026-11-24T07:43:47.963Z" && e.event_id == "0/16B3748/2",
          "top-level members only: " + std::string(e.type) + " " + std::string(e.user_id));
    check(scan_envelope(R"( { "type" : "stream.ready" , "user_id":"u" } )", e) &&
              e.type == "stream.ready" && e.user_id == "u",
          "whitespace");
    check(scan_envelope("{}", e) && e.type.empty(), "empty object");
    check(!scan_envelope("", e) && !scan_envelope("[1]", e) && !scan_envelope("not json", e) &&
              !scan_envelope(R"({"type":"x")", e) && !scan_envelope(R"({"type":"x"} junk)", e) &&
              !scan_envelope(R"({"type":"x)", e) && !scan_envelope(R"({"a":{"b":1})", e) &&
              !scan_envelope(R"({"a":})", e),
          "malformed frames");
  }

  // Ids.
  {
    const auto p = parse_event_id("0/16B3748/2");
    check(p && p->lsn == 0x16B3748ULL && p->index == 2, "event id");
    check(parse_event_id("1A/0/0").value_or(Position{}).lsn == (0x1AULL << 32), "event id high");
    check(!parse_event_id("0/16B3748") && !parse_event_id("0//1") && !parse_event_id("/1/1") &&
              !parse_event_id("0/1/") && !parse_event_id("0/xyz/1") && !parse_event_id("0/1/-1"),
          "bad event ids");
    check(Position{1, 5} < Position{2, 0} && Position{2, 0} < Position{2, 1}, "position order");
  }

  // The bookkeeping.
  {
    auto ev = [](const char* id, const char* at, const char* user,
                 const char* type = "payment_link.ready") {
      return nlohmann::json{{"event_id", id},  {"type", type},
                            {"lsn", "0/0"},    {"committed_at", at},
                            {"item_id", "ws"}, {"order_id", "o"},
                            {"user_id", user}, {"data", {{"payment_link", "x"}}}}
          .dump();
    };
    const std::int64_t t0 = 1795514400000000;  // 2026-11-24T10:00:00.000Z
    Tally t(t0 + 1000);                        // measured from 10:00:00.001
    std::optional<Position> last;
    using P = Tally::Phase;
    using S = Tally::Seen;
    check(t.frame(ev("0/5/0", "2026-11-24T10:00:00.000Z", "u1"), "u1", last, t0 + 500,
                  P::connecting) == S::early,
          "early frame");
    check(t.frame(ev("0/8/0", "2026-11-24T10:00:00.000Z", "u1"), "u1", last, t0 + 900,
                  P::measuring) == S::warmup,
          "warm-up frame");
    check(t.frame(ev("0/10/0", "2026-11-24T10:00:00.001Z", "u1"), "u1", last, t0 + 3500,
                  P::measuring) == S::measured,
          "measured frame");
    t.frame(ev("0/10/0", "2026-11-24T10:00:00.001Z", "u1"), "u1", last, t0 + 4000,
            P::measuring);  // again
    t.frame(ev("0/9/0", "2026-11-24T10:00:00.001Z", "u1"), "u1", last, t0 + 4000,
            P::measuring);  // older
    t.frame(ev("0/20/1", "2026-11-24T10:00:00.010Z", "u2"), "u1", last, t0 + 5000,
            P::measuring);  // someone else's, and received before its commit time
    t.frame(R"({"type":"stream.ready","user_id":"u1"})", "u1", last, t0, P::measuring);
    t.frame("garbage", "u1", last, t0, P::measuring);
    t.frame(R"({"type":"payment_link.ready","event_id":"0/30/0"})", "u1", last, t0, P::measuring);
    t.closed("close 1000 too slow");
    t.closed("close 1000 too slow");
    t.connect_error("connect: refused");
    check(t.frames() == 4, "frames " + std::to_string(t.frames()));
    check(t.warmup() == 1 && t.early() == 1, "warm-up and early apart");
    check(t.received() == 9, "received " + std::to_string(t.received()));
    check(t.duplicates() == 1 && t.out_of_order() == 1, "order checks");
    check(t.mismatches() == 1, "user mismatch");
    check(t.malformed_count() == 2, "malformed " + std::to_string(t.malformed_count()));
    check(t.negative() == 1, "negative latency");
    check(t.latency().max() == 3000 && t.latency().min() == 0, "latency range");
    check(last && *last == Position{0x20, 1}, "newest position kept");
    check(t.closed_count() == 2 && t.close_reasons().at("close 1000 too slow") == 2, "closes");
    check(t.types().at("payment_link.ready") == 6, "types");
    const auto r = t.report();
    check(r["user_mismatches"] == 1 && r["extra_hellos"] == 1 && r["frames"] == 4 &&
              r["connect_errors"]["connect: refused"] == 1,
          "report " + r.dump());
    const auto second = t.roll_second();
    check(second.count == 6 && second.warmup, "a second with warm-up frames");
    check(t.roll_second().count == 0, "interval reset");
  }

  // Arguments.
  check(parses(parse_options, {"--port", "8080"}), "minimal args");
  check(parses(parse_options, {"--port=8080",
                               "--connections",
                               "10",
                               "--threads",
                               "2",
                               "--connect-rate",
                               "500",
                               "--max-pending",
                               "50",
                               "--retries",
                               "0",
                               "--duration",
                               "5",
                               "--idle",
                               "2",
                               "--idle-after-usr1",
                               "--measure-from",
                               "1795514400.25",
                               "--user-prefix",
                               "b-",
                               "--ready-file",
                               "/tmp/x",
                               "--progress"}),
        "all args");
  check(parses(parse_options, {"--port", "1", "--warmup", "5", "--load-on-usr2"}),
        "warm-up after SIGUSR2");
  check(!parses(parse_options, {"--port", "1", "--warmup", "5", "--measure-from", "1795514400"}),
        "--measure-from and --warmup");
  check(!parses(parse_options, {}), "port required");
  check(!parses(parse_options, {"--port", "0"}), "port 0");
  check(!parses(parse_options, {"--port", "1", "--connections", "0"}), "0 connections");
  check(!parses(parse_options, {"--port", "1", "--threads", "0"}), "0 threads");
  check(!parses(parse_options, {"--port", "1", "--idle-after-usr1"}), "usr1 without idle");
  check(!parses(parse_options, {"--port", "1", "--user-prefix", "a b"}), "prefix with a space");
  check(!parses(parse_options, {"--port", "1", "--progress=1"}), "flag with a value");
  check(!parses(parse_options, {"--port", "1", "--bogus"}), "unknown flag");
  {
    const auto o = parse_options({"--port", "1", "--measure-from", "1795514400.25"});
    check(o.measure_from_us == 1795514400250000 && o.connections == 10000 && o.threads == 1,
          "defaults and measure-from");
  }

  if (check.passed()) std::cerr << "flashsale-wsbench: self-test passed\n";
  return check.passed() ? kExitOk : kExitRunFailed;
}

}  // namespace
}  // namespace flashsale::bench

int main(int argc, char** argv) {
  using namespace flashsale::bench;
  return tool_main("flashsale-wsbench", kUsage, argc, argv, parse_options, self_test, run);
}
