// flashsale-eventlag: a consumer of the admin event stream (GET /admin/stream, a WebSocket) that
// measures, for every domain event, the time from its transaction's commit to the frame's
// arrival here (see bench/README.md, "CDC event lag").
//
// latency = local receive time - committed_at. Both clocks are this machine's (the service and
// PostgreSQL run here too). committed_at carries milliseconds only and the service truncates
// the commit time to the millisecond, so each figure is 0 to 1 ms above the true value: the
// percentiles are accurate to about 1 ms, no better.
//
// Also checked on the fly: event_id uniqueness (a repeated id is a duplicate), commit order (an
// event whose (commit LSN, index) is below one already seen is out of order), and the envelope
// (a frame without event_id/type/lsn/committed_at/item_id, or whose event_id does not start
// with its lsn, is malformed). Output: a summary on stderr, one JSON line on stdout.

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_set>
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
using Json = nlohmann::json;

// Exit codes (common/cli.hpp): 1 without a connection or a snapshot, or when the server closed
// the stream.

constexpr std::size_t kMaxTypes = 64;  // a misbehaving server cannot blow up the report
constexpr std::size_t kMaxFrameBytes = 64 << 20;

// ---------------------------------------------------------------------------------------------
// Options

/// --duration bounds the whole run; --ready-file is created once the snapshot has arrived.
struct Options : StreamOptions {
  Options() : StreamOptions("/admin/stream") {}

  std::string until_item;   // stop when an event of this item arrives (an end marker)
  std::string user_prefix;  // count the events of these users separately
};

constexpr std::string_view kUsage = R"(usage: flashsale-eventlag --port P [options]

Connects to ws://HOST:P/admin/stream, skips the snapshot, and for every event frame records
latency = local receive time - committed_at (the transaction's commit time; millisecond
precision, so figures are accurate to about 1 ms). Counts events per type, checks that
event_id is unique and that (commit LSN, index) never goes backwards.
Prints a summary on stderr and one JSON line on stdout.

target
  --host H              admin listener address (default 127.0.0.1)
  --port P              admin listener port (required)
  --path P              stream path (default /admin/stream)
  --connect-timeout S   connect + handshake + snapshot within S seconds (default 10)
when to stop (whichever comes first; SIGINT/SIGTERM also stop and report)
  --duration S          at most S seconds after start (default 60)
  --until-item ID       when an event of item ID arrives (an end marker; not counted)
  --idle S              after S seconds without a frame, counted from the first event
  --idle-after-usr1     with --idle: the silence counts only once SIGUSR1 arrived
                        ("the load is over"; a stall during the load does not end the run)
bookkeeping
  --measure-from T      events committed before T (unix seconds, e.g. 1795514400.25) are a
                        warm-up: checked, counted apart, not in the figures
  --user-prefix P       also count, per type, the events whose user_id starts with P
                        (warm-up included)
  --ready-file F        create F once the snapshot has arrived (for scripts)
output
  --progress            one line per second on stderr (events, rate, latency of that second)
  --self-test           run the built-in checks and exit
  --help                this text
)";

Options parse_options(const std::vector<std::string>& args) {
  Options o;
  for (Args a(args); a.next();) {
    if (stream_flag(a, o)) continue;
    const auto& flag = a.flag();
    if (flag == "--until-item") {
      o.until_item = a.value();
      if (o.until_item.empty()) throw UsageError{"--until-item: empty"};
    } else if (flag == "--user-prefix") {
      o.user_prefix = a.value();
    } else {
      throw a.unknown();
    }
  }
  run_wanted(o);  // the checks of --port and --idle-after-usr1 (none for --self-test)
  return o;
}

// ---------------------------------------------------------------------------------------------
// Parsing the envelope

/// "16/B3748A0" (PostgreSQL's %X/%X) to a 64-bit position.
std::optional<std::uint64_t> parse_lsn(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == s.size() || slash > 8 ||
      s.size() - slash - 1 > 8) {
    return std::nullopt;
  }
  std::uint32_t hi = 0, lo = 0;
  const char* end = s.data() + s.size();
  auto [p1, e1] = std::from_chars(s.data(), s.data() + slash, hi, 16);
  auto [p2, e2] = std::from_chars(s.data() + slash + 1, end, lo, 16);
  if (e1 != std::errc() || p1 != s.data() + slash || e2 != std::errc() || p2 != end) {
    return std::nullopt;
  }
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

/// An event's place in the stream: its transaction's commit LSN, then its index in it.
struct EventKey {
  std::uint64_t lsn = 0;
  std::uint32_t index = 0;
  auto operator<=>(const EventKey&) const = default;
};

/// "<lsn>/<index>" whose lsn part equals the frame's lsn; nullopt otherwise.
std::optional<EventKey> parse_event_id(std::string_view id, std::string_view lsn_text) {
  if (id.size() <= lsn_text.size() + 1 || id.substr(0, lsn_text.size()) != lsn_text ||
      id[lsn_text.size()] != '/') {
    return std::nullopt;
  }
  const auto lsn = parse_lsn(lsn_text);
  if (!lsn) return std::nullopt;
  const std::string_view rest = id.substr(lsn_text.size() + 1);
  std::uint32_t index = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), index);
  if (ec != std::errc() || p != rest.data() + rest.size()) return std::nullopt;
  return EventKey{*lsn, index};
}

std::string format_lsn(std::uint64_t lsn) {
  char out[24];
  std::snprintf(out, sizeof out, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffU));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The bookkeeping, independent of the network (so --self-test can drive it)

class Tally {
 public:
  /// `measure_from_us`: events committed before it (unix µs) are a warm-up: checked and counted
  /// apart, not measured.
  explicit Tally(std::string until_item = {}, std::string user_prefix = {},
                 std::int64_t measure_from_us = 0)
      : until_item_(std::move(until_item)),
        user_prefix_(std::move(user_prefix)),
        measure_from_us_(measure_from_us) {}

  enum class Seen { snapshot, event, warmup, marker, ignored };

  /// One text frame received at `recv_us` (unix µs, this machine's clock).
  Seen frame(std::string_view text, std::int64_t recv_us) {
    ++frames_;
    bytes_ += text.size();
    const Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return malformed("not a JSON object");
    const auto type = string_field(j, "type");
    if (type == "snapshot") {
      if (snapshot_seen_) {
        ++extra_snapshots_;
      } else {
        snapshot_seen_ = true;
        if (auto it = j.find("items"); it != j.end() && it->is_array())
          snapshot_items_ = it->size();
      }
      return Seen::snapshot;
    }
    if (!snapshot_seen_) ++before_snapshot_;
    const auto event_id = string_field(j, "event_id");
    const auto lsn_text = string_field(j, "lsn");
    const auto committed_at = string_field(j, "committed_at");
    const auto item = j.find("item_id");
    if (type.empty() || event_id.empty() || lsn_text.empty() || committed_at.empty() ||
        item == j.end() || !item->is_string()) {
      return malformed("an envelope field is missing");
    }
    if (!until_item_.empty() && item->get_ref<const std::string&>() == until_item_) {
      marker_seen_ = true;
      return Seen::marker;
    }
    const auto commit = parse_rfc3339(committed_at);
    if (!commit) return malformed("committed_at is not RFC 3339");
    const auto key = parse_event_id(event_id, lsn_text);
    if (!key) {
      // Not "<lsn>/<index>": still checked for uniqueness, by its text.
      if (!odd_ids_.insert(std::string(event_id)).second) return duplicate();
      ++bad_ids_;
      if (bad_ids_ == 1) first_bad_id_ = std::string(event_id.substr(0, 80));
    } else if (!in_order_.empty() && *key <= in_order_.back()) {
      // Below the highest id seen: an id seen before, or one that arrives late.
      if (std::binary_search(in_order_.begin(), in_order_.end(), *key) ||
          !late_.insert(key_hash(*key)).second) {
        return duplicate();
      }
      ++out_of_order_;
      if (out_of_order_ == 1) {
        first_out_of_order_ = std::string(event_id) + " after " + format_lsn(in_order_.back().lsn) +
                              "/" + std::to_string(in_order_.back().index);
      }
    } else {
      if (in_order_.empty() || key->lsn != in_order_.back().lsn) {
        ++(commit->unix_us >= measure_from_us_ ? transactions_ : warmup_transactions_);
      }
      in_order_.push_back(*key);  // ascending by construction: binary_search works on it
    }
    const std::string type_name = sanitize_code(type);
    if (!user_prefix_.empty()) {
      if (auto user = j.find("user_id");
          user != j.end() && user->is_string() &&
          user->get_ref<const std::string&>().starts_with(user_prefix_)) {
        count_into(prefix_types_, type_name, kMaxTypes);
      }
    }
    std::int64_t latency = recv_us - commit->unix_us;
    if (latency < 0) {
      ++negative_;
      latency = 0;
    }
    const bool warmup = commit->unix_us < measure_from_us_;
    second_.record(static_cast<std::uint64_t>(latency), warmup);
    if (warmup) {
      ++warmup_events_;
      return Seen::warmup;
    }
    latency_.record(static_cast<std::uint64_t>(latency));
    ++events_;
    if (events_ == 1) {
      first_recv_us_ = recv_us;
      first_commit_us_ = commit->unix_us;
      first_committed_at_ = std::string(committed_at);
      fraction_digits_ = commit->fraction_digits;
    }
    fraction_digits_ = std::min(fraction_digits_, commit->fraction_digits);
    if (events_ > 1) max_gap_us_ = std::max(max_gap_us_, recv_us - last_recv_us_);
    last_recv_us_ = recv_us;
    last_commit_us_ = std::max(last_commit_us_, commit->unix_us);
    last_committed_at_ = std::string(committed_at);
    count_into(types_, type_name, kMaxTypes);
    return Seen::event;
  }

  /// Ends the current one-second interval (every event, warm-up included).
  PerSecond::Interval roll_second() { return second_.roll(); }

  [[nodiscard]] nlohmann::ordered_json report() const;

  [[nodiscard]] const LatencyHistogram& latency() const { return latency_; }
  [[nodiscard]] std::uint64_t events() const { return events_; }
  [[nodiscard]] std::uint64_t transactions() const { return transactions_; }
  [[nodiscard]] std::uint64_t warmup_events() const { return warmup_events_; }
  [[nodiscard]] std::uint64_t duplicates() const { return duplicates_; }
  [[nodiscard]] std::uint64_t out_of_order() const { return out_of_order_; }
  [[nodiscard]] std::uint64_t malformed_count() const { return malformed_; }
  [[nodiscard]] std::uint64_t negative() const { return negative_; }
  [[nodiscard]] bool snapshot_seen() const { return snapshot_seen_; }
  [[nodiscard]] bool marker_seen() const { return marker_seen_; }
  [[nodiscard]] std::int64_t last_recv_us() const { return last_recv_us_; }
  [[nodiscard]] const Counts& types() const { return types_; }
  [[nodiscard]] const Counts& prefix_types() const { return prefix_types_; }
  [[nodiscard]] const std::string& first_out_of_order() const { return first_out_of_order_; }
  [[nodiscard]] const std::string& first_malformed() const { return first_malformed_; }
  /// Seconds from the first to the last event received.
  [[nodiscard]] double seconds() const {
    return events_ > 1 ? static_cast<double>(last_recv_us_ - first_recv_us_) / 1e6 : 0.0;
  }

 private:
  static std::string_view string_field(const Json& j, const char* name) {
    const auto it = j.find(name);
    if (it == j.end() || !it->is_string()) return {};
    return it->get_ref<const std::string&>();
  }
  static std::string key_hash(const EventKey& k) {
    return std::to_string(k.lsn) + "/" + std::to_string(k.index);
  }
  Seen malformed(const char* why) {
    ++malformed_;
    if (malformed_ == 1) first_malformed_ = why;
    return Seen::ignored;
  }
  Seen duplicate() {
    ++duplicates_;
    return Seen::ignored;
  }

  std::string until_item_;
  std::string user_prefix_;
  std::int64_t measure_from_us_ = 0;
  std::uint64_t warmup_events_ = 0, warmup_transactions_ = 0;
  LatencyHistogram latency_;
  PerSecond second_;
  std::uint64_t frames_ = 0, bytes_ = 0, events_ = 0, transactions_ = 0;
  std::uint64_t duplicates_ = 0, out_of_order_ = 0, malformed_ = 0, bad_ids_ = 0;
  std::uint64_t negative_ = 0, extra_snapshots_ = 0, before_snapshot_ = 0;
  std::size_t snapshot_items_ = 0;
  bool snapshot_seen_ = false, marker_seen_ = false;
  std::vector<EventKey> in_order_;        // every id that arrived in order, ascending
  std::unordered_set<std::string> late_;  // ids that arrived out of order
  std::unordered_set<std::string> odd_ids_;
  std::string first_out_of_order_, first_malformed_, first_bad_id_;
  std::string first_committed_at_, last_committed_at_;
  std::int64_t first_recv_us_ = 0, last_recv_us_ = 0, max_gap_us_ = 0;
  std::int64_t first_commit_us_ = 0, last_commit_us_ = 0;
  int fraction_digits_ = 0;
  Counts types_, prefix_types_;
};

nlohmann::ordered_json Tally::report() const {
  using Ordered = nlohmann::ordered_json;
  const double secs = seconds();
  const double commit_span = static_cast<double>(last_commit_us_ - first_commit_us_) / 1e6;
  // The coarsest committed_at seen: 3 fraction digits (milliseconds) -> 1 ms.
  const double resolution_ms = events_ == 0 ? 0.0 : std::pow(10.0, 3 - fraction_digits_);
  Ordered report = {
      {"events", events_},
      {"transactions", transactions_},
      {"seconds", round_to(secs, 3)},
      {"events_per_s", secs > 0 ? round_to(static_cast<double>(events_) / secs, 1) : 0.0},
      {"transactions_per_s",
       secs > 0 ? round_to(static_cast<double>(transactions_) / secs, 1) : 0.0},
  };
  report.update(latency_json(latency_));
  report.update({
      {"min_ms", to_ms(latency_.min())},
      {"worst_second_p99_ms", to_ms(second_.worst_p99_us())},
      {"warmup_events", warmup_events_},
      {"warmup_transactions", warmup_transactions_},
      {"max_gap_ms", round_to(static_cast<double>(max_gap_us_) / 1000.0, 3)},
      {"duplicates", duplicates_},
      {"out_of_order", out_of_order_},
      {"malformed", malformed_},
      {"ids_not_lsn_index", bad_ids_},
      {"negative_latencies", negative_},
      {"types", to_json(types_)},
      {"user_prefix", user_prefix_},
      {"user_prefix_types", to_json(prefix_types_)},
      {"snapshot_items", snapshot_items_},
      {"extra_snapshots", extra_snapshots_},
      {"events_before_snapshot", before_snapshot_},
      {"frames", frames_},
      {"bytes", bytes_},
      {"first_lsn", in_order_.empty() ? "" : format_lsn(in_order_.front().lsn)},
      {"last_lsn", in_order_.empty() ? "" : format_lsn(in_order_.back().lsn)},
      {"first_committed_at", first_committed_at_},
      {"last_committed_at", last_committed_at_},
      {"commit_span_s", round_to(commit_span, 3)},
      {"committed_at_resolution_ms", resolution_ms},
      {"until_item_seen", marker_seen_},
  });
  return report;
}

// ---------------------------------------------------------------------------------------------
// The client: one WebSocket on a single-threaded io_context

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(net::io_context& ioc, const Options& opt)
      : opt_(opt),
        tally_(opt.until_item, opt.user_prefix, opt.measure_from_us),
        ws_(ioc),
        deadline_(ioc),
        tick_(ioc),
        signals_(ioc, SIGINT, SIGTERM),
        usr1_(ioc, SIGUSR1) {}

  void start(const tcp::endpoint& endpoint) {
    started_ = Clock::now();
    deadline_.expires_after(to_duration(opt_.duration_s));
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->stop("duration");
    });
    signals_.async_wait([self = shared_from_this()](beast::error_code ec, int) {
      if (!ec) self->stop("signal");
    });
    arm_usr1();
    next_second_ = started_ + std::chrono::seconds(1);
    arm_tick();

    auto& tcp_stream = beast::get_lowest_layer(ws_);
    tcp_stream.expires_after(to_duration(opt_.connect_timeout_s));
    tcp_stream.async_connect(endpoint, [self = shared_from_this(), endpoint](beast::error_code ec) {
      if (ec) return self->fail("connect", ec);
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().set_option(tcp::no_delay(true), ignored);
      self->handshake(endpoint);
    });
  }

  [[nodiscard]] const Tally& tally() const { return tally_; }
  [[nodiscard]] const std::string& stopped_by() const { return stopped_by_; }
  [[nodiscard]] const std::string& close_reason() const { return close_reason_; }
  [[nodiscard]] bool failed() const { return failed_; }

 private:
  void handshake(const tcp::endpoint& endpoint) {
    // The connect timeout also bounds the handshake and the snapshot (see on_frame).
    websocket::stream_base::timeout t =
        websocket::stream_base::timeout::suggested(beast::role_type::client);
    t.handshake_timeout = to_duration(opt_.connect_timeout_s);
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(t);
    ws_.read_message_max(kMaxFrameBytes);
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "flashsale-eventlag");
    }));
    const std::string host = opt_.host + ":" + std::to_string(endpoint.port());
    ws_.async_handshake(host, opt_.path, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->fail("handshake", ec);
      std::cerr << "flashsale-eventlag: connected to ws://" << self->opt_.host << ":"
                << self->opt_.port << self->opt_.path << ", waiting for the snapshot\n";
      self->read();
    });
  }

  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      const std::int64_t recv_us = unix_now_us();  // first thing: the arrival time
      self->on_read(ec, recv_us);
    });
  }

  void on_read(beast::error_code ec, std::int64_t recv_us) {
    if (stopped_) return;
    if (ec) {
      if (ec == websocket::error::closed) {
        const auto& why = ws_.reason();
        close_reason_ =
            "closed by the server: code " + std::to_string(why.code) +
            (why.reason.empty() ? ""
                                : " \"" + std::string(why.reason.data(), why.reason.size()) + "\"");
      } else {
        close_reason_ = "read: " + ec.message();
      }
      failed_ = true;
      return stop("closed");
    }
    last_frame_ = Clock::now();
    const auto data = buffer_.cdata();
    const std::string_view text(static_cast<const char*>(data.data()), data.size());
    const auto seen = ws_.got_text() ? tally_.frame(text, recv_us) : Tally::Seen::ignored;
    buffer_.consume(buffer_.size());
    if (seen == Tally::Seen::snapshot && !ready_) {
      ready_ = true;
      std::cerr << "flashsale-eventlag: snapshot received, measuring\n";
      if (!opt_.ready_file.empty()) std::ofstream(opt_.ready_file) << "ready\n";
    }
    if (seen == Tally::Seen::marker) return stop("until_item");
    read();
  }

  void arm_usr1() {
    usr1_.async_wait([self = shared_from_this()](beast::error_code ec, int) {
      if (ec) return;
      if (!self->idle_armed_) {
        self->idle_armed_ = true;
        self->idle_armed_at_ = Clock::now();
        std::cerr << "flashsale-eventlag: SIGUSR1: stopping after " << self->opt_.idle_s
                  << " s without a frame\n";
      }
      self->arm_usr1();
    });
  }

  // Every 100 ms: the idle rule, the snapshot deadline, and (each second) the progress line.
  void arm_tick() {
    tick_.expires_after(std::chrono::milliseconds(100));
    tick_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->stopped_) return;
      self->on_tick();
      self->arm_tick();
    });
  }

  void on_tick() {
    const auto now = Clock::now();
    if (!ready_ && now - started_ > to_duration(opt_.connect_timeout_s)) {
      close_reason_ = "no snapshot within the connect timeout";
      failed_ = true;
      return stop("no_snapshot");
    }
    if (opt_.idle_s > 0 && tally_.events() > 0 && (!opt_.idle_after_usr1 || idle_armed_)) {
      auto since = last_frame_;
      if (opt_.idle_after_usr1) since = std::max(since, idle_armed_at_);
      if (now - since >= to_duration(opt_.idle_s)) return stop("idle");
    }
    while (now >= next_second_) {
      next_second_ += std::chrono::seconds(1);
      ++second_no_;
      const auto i = tally_.roll_second();
      if (opt_.progress) {
        char line[240];
        std::snprintf(line, sizeof line,
                      "[%4llus] events=%llu ev/s=%llu p50=%.1fms p99=%.1fms max=%.1fms "
                      "dup=%llu ooo=%llu%s\n",
                      static_cast<unsigned long long>(second_no_),
                      static_cast<unsigned long long>(tally_.events()),
                      static_cast<unsigned long long>(i.count), to_ms(i.p50_us), to_ms(i.p99_us),
                      to_ms(i.max_us), static_cast<unsigned long long>(tally_.duplicates()),
                      static_cast<unsigned long long>(tally_.out_of_order()),
                      i.warmup ? " (warm-up)" : "");
        std::fputs(line, stderr);
      }
    }
  }

  void fail(const char* what, beast::error_code ec) {
    if (stopped_) return;
    close_reason_ = std::string(what) + ": " + ec.message();
    failed_ = true;
    stop("error");
  }

  void stop(std::string why) {
    if (stopped_) return;
    stopped_ = true;
    stopped_by_ = std::move(why);
    if (!tally_.snapshot_seen() && stopped_by_ != "error" && stopped_by_ != "closed")
      failed_ = true;
    deadline_.cancel();
    tick_.cancel();
    signals_.cancel();
    usr1_.cancel();
    // A polite close, bounded: whatever has not finished after 2 s is cut.
    if (!beast::get_lowest_layer(ws_).socket().is_open()) return;
    if (!ws_.is_open()) return close_socket();
    deadline_.expires_after(std::chrono::seconds(2));
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->close_socket();
    });
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {
      self->deadline_.cancel();
      self->close_socket();
    });
  }

  void close_socket() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  const Options& opt_;
  Tally tally_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  net::steady_timer deadline_;
  net::steady_timer tick_;
  net::signal_set signals_;
  net::signal_set usr1_;
  Clock::time_point started_{};
  Clock::time_point next_second_{};
  Clock::time_point last_frame_{};
  Clock::time_point idle_armed_at_{};
  std::uint64_t second_no_ = 0;
  bool ready_ = false;
  bool idle_armed_ = false;
  bool stopped_ = false;
  bool failed_ = false;
  std::string stopped_by_;
  std::string close_reason_;
};

void print_summary(const Options& opt, const Client& client) {
  const Tally& t = client.tally();
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << "flashsale-eventlag: ws://" << opt.host << ":" << opt.port << opt.path << ", stopped by "
    << client.stopped_by();
  if (!client.close_reason().empty()) s << " (" << client.close_reason() << ")";
  s << "\n  events     " << t.events() << " in " << t.seconds() << " s (first to last frame) = "
    << (t.seconds() > 0 ? static_cast<double>(t.events()) / t.seconds() : 0.0) << " events/s, "
    << t.transactions() << " transactions = "
    << (t.seconds() > 0 ? static_cast<double>(t.transactions()) / t.seconds() : 0.0) << "/s";
  if (t.warmup_events() > 0) s << "; plus " << t.warmup_events() << " warm-up events, not measured";
  s << "\n";
  s.precision(3);
  s << "  commit -> frame ms  " << Percentiles{t.latency()}
    << "\n             (committed_at has millisecond precision, truncated: figures are 0-1 ms "
       "above the true latency)\n";
  s << "  checks     duplicates " << t.duplicates() << ", out of order " << t.out_of_order()
    << ", malformed " << t.malformed_count() << ", negative latencies " << t.negative();
  if (!t.first_out_of_order().empty()) s << "; first out of order: " << t.first_out_of_order();
  if (!t.first_malformed().empty()) s << "; first malformed: " << t.first_malformed();
  s << "\n  types     ";
  if (t.types().empty()) s << " none";
  for (const auto& [k, v] : t.types()) s << " " << k << "=" << v;
  s << "\n";
  if (!opt.user_prefix.empty()) {
    s << "  users " << opt.user_prefix << "*:";
    if (t.prefix_types().empty()) s << " none";
    for (const auto& [k, v] : t.prefix_types()) s << " " << k << "=" << v;
    s << "\n";
  }
  s.precision(2);
  s << "  eventlag   " << own_cpu_seconds() << " CPU s\n";
  std::cerr << s.str();
}

int run(const Options& opt) {
  net::io_context ioc(1);
  const auto endpoint = resolve(ioc, opt.host, opt.port, "flashsale-eventlag");
  if (!endpoint) return kExitRunFailed;
  auto client = std::make_shared<Client>(ioc, opt);
  client->start(*endpoint);
  ioc.run();

  print_summary(opt, *client);
  auto report = client->tally().report();
  report["stopped_by"] = client->stopped_by();
  report["close_reason"] = client->close_reason();
  report["eventlag_cpu_s"] = round_to(own_cpu_seconds(), 2);
  std::cout << report.dump() << std::endl;
  return client->failed() ? kExitRunFailed : kExitOk;
}

// ---------------------------------------------------------------------------------------------
// Built-in checks (--self-test): the shared pieces, LSN parsing, the bookkeeping, the argument
// parser.

int self_test() {
  Checks check;
  check_common(check);

  // LSNs and ids.
  check(parse_lsn("0/16B3748") == 0x16B3748ULL, "lsn");
  check(parse_lsn("1A/0") == (0x1AULL << 32), "lsn high");
  check(!parse_lsn("16B3748") && !parse_lsn("0/") && !parse_lsn("/1") && !parse_lsn("0/xyz"),
        "bad lsns");
  check(format_lsn(0x1A000016B3ULL) == "1A/16B3", "format lsn");
  {
    const auto k = parse_event_id("0/16B3748/2", "0/16B3748");
    check(k && k->lsn == 0x16B3748ULL && k->index == 2, "event id");
    check(!parse_event_id("0/16B3749/2", "0/16B3748"), "id of another lsn");
    check(!parse_event_id("0/16B3748/", "0/16B3748"), "id without index");
    check(!parse_event_id("0/16B3748/x", "0/16B3748"), "id with junk index");
    check(EventKey{1, 5} < EventKey{2, 0} && EventKey{2, 0} < EventKey{2, 1}, "key order");
  }

  // The bookkeeping.
  {
    auto ev = [](const char* id, const char* lsn, const char* at, const char* item = "a",
                 const char* user = "u1") {
      return Json{{"event_id", id},        {"type", "order.reserved"}, {"lsn", lsn},
                  {"committed_at", at},    {"item_id", item},          {"user_id", user},
                  {"data", Json::object()}}
          .dump();
    };
    const std::int64_t t0 = 1795514400000000;  // 2026-11-24T10:00:00.000Z
    Tally t("end-marker", "u");
    check(t.frame(R"({"type":"snapshot","items":[{"id":"a"},{"id":"b"}]})", t0) ==
              Tally::Seen::snapshot,
          "snapshot");
    check(
        t.frame(ev("0/10/0", "0/10", "2026-11-24T10:00:00.000Z"), t0 + 2500) == Tally::Seen::event,
        "first event");
    t.frame(ev("0/10/1", "0/10", "2026-11-24T10:00:00.000Z"), t0 + 3000);
    t.frame(ev("0/20/0", "0/20", "2026-11-24T10:00:00.001Z", "a", "x"), t0 + 11000);
    check(t.frame(ev("0/10/1", "0/10", "2026-11-24T10:00:00.000Z"), t0 + 12000) ==
              Tally::Seen::ignored,
          "duplicate ignored");
    t.frame(ev("0/15/0", "0/15", "2026-11-24T10:00:00.000Z"), t0 + 13000);  // late
    t.frame(ev("0/15/0", "0/15", "2026-11-24T10:00:00.000Z"), t0 + 13000);  // late, again
    t.frame(ev("0/30/0", "0/30", "2026-11-24T10:00:00.020Z"), t0 + 10000);  // clock skew
    t.frame(R"({"type":"order.reserved"})", t0);
    t.frame("not json", t0);
    check(t.frame(ev("0/40/0", "0/40", "2026-11-24T10:00:00.030Z", "end-marker"), t0 + 31000) ==
              Tally::Seen::marker,
          "marker");
    check(t.events() == 5, "events " + std::to_string(t.events()));
    check(t.transactions() == 3, "transactions " + std::to_string(t.transactions()));
    check(t.duplicates() == 2, "duplicates " + std::to_string(t.duplicates()));
    check(t.out_of_order() == 1, "out of order " + std::to_string(t.out_of_order()));
    check(t.malformed_count() == 2, "malformed " + std::to_string(t.malformed_count()));
    check(t.negative() == 1, "negative " + std::to_string(t.negative()));
    check(t.marker_seen(), "marker seen");
    check(t.latency().max() == 13000 && t.latency().min() == 0, "latency range");
    check(t.types().at("order.reserved") == 5, "types");
    check(t.prefix_types().at("order.reserved") == 4, "prefix types");
    const auto r = t.report();
    check(r["snapshot_items"] == 2 && r["committed_at_resolution_ms"] == 1.0 &&
              r["first_lsn"] == "0/10" && r["last_lsn"] == "0/30",
          "report " + r.dump());
  }
  {
    Tally t;  // an event before any snapshot still counts, and is reported
    t.frame(R"({"event_id":"0/1/0","type":"item.created","lsn":"0/1","committed_at":)"
            R"("2026-11-24T10:00:00.000Z","item_id":"a","data":{}})",
            1795514400000500);
    check(t.events() == 1 && t.report()["events_before_snapshot"] == 1, "before snapshot");
    check(t.roll_second().count == 1 && t.roll_second().count == 0, "interval reset");
  }
  {
    // --measure-from 10:00:00.001: the first transaction is a warm-up, checked but not measured.
    const std::int64_t t0 = 1795514400000000;
    Tally t({}, "u", t0 + 1000);
    auto ev = [](const char* id, const char* lsn, const char* at) {
      return Json{{"event_id", id},     {"type", "order.reserved"}, {"lsn", lsn},
                  {"committed_at", at}, {"item_id", "a"},           {"user_id", "u1"}}
          .dump();
    };
    t.frame(R"({"type":"snapshot","items":[]})", t0);
    check(t.frame(ev("0/10/0", "0/10", "2026-11-24T10:00:00.000Z"), t0 + 90000) ==
              Tally::Seen::warmup,
          "warm-up event");
    check(t.frame(ev("0/10/0", "0/10", "2026-11-24T10:00:00.000Z"), t0 + 90000) ==
              Tally::Seen::ignored,
          "warm-up duplicate");
    check(
        t.frame(ev("0/20/0", "0/20", "2026-11-24T10:00:00.001Z"), t0 + 3000) == Tally::Seen::event,
        "measured event");
    check(t.events() == 1 && t.warmup_events() == 1 && t.transactions() == 1 &&
              t.duplicates() == 1 && t.latency().max() == 2000,
          "warm-up apart " + t.report().dump());
    check(t.prefix_types().at("order.reserved") == 2, "prefix counts include the warm-up");
    const auto second = t.roll_second();
    check(second.count == 2 && second.warmup, "a second with warm-up events");
    check(t.report()["worst_second_p99_ms"] == 0.0, "warm-up seconds not in the worst p99");
  }

  // Arguments.
  check(parses(parse_options, {"--port", "8081"}), "minimal args");
  check(parses(parse_options, {"--port=8081", "--duration", "5", "--idle", "2", "--idle-after-usr1",
                               "--until-item", "end", "--user-prefix", "u", "--progress"}),
        "all args");
  check(!parses(parse_options, {}), "port required");
  check(!parses(parse_options, {"--port", "0"}), "port 0");
  check(!parses(parse_options, {"--port", "1", "--duration", "0"}), "duration 0");
  check(!parses(parse_options, {"--port", "1", "--idle-after-usr1"}), "usr1 without idle");
  check(!parses(parse_options, {"--port", "1", "--progress=1"}), "flag with value");
  check(!parses(parse_options, {"--port", "1", "--bogus"}), "unknown flag");
  check(parses(parse_options, {"--port", "1", "--measure-from", "1795514400.25"}), "measure-from");
  check(!parses(parse_options, {"--port", "1", "--measure-from", "-1"}), "negative measure-from");

  if (check.passed()) std::cerr << "flashsale-eventlag: self-test passed\n";
  return check.passed() ? kExitOk : kExitRunFailed;
}

}  // namespace
}  // namespace flashsale::bench

int main(int argc, char** argv) {
  using namespace flashsale::bench;
  return tool_main("flashsale-eventlag", kUsage, argc, argv, parse_options, self_test, run);
}
