// Domain events (SPEC §5): immutable facts derived from the write-ahead log, and the two ends
// of the host's event bus — the sink an event source publishes to, and the consumers it feeds.
#pragma once

#include <boost/config.hpp>
#include <chrono>
#include <compare>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flashsale::sdk {
inline namespace v1 {

/// One fact, e.g. "order.reserved". Its id is deterministic: a replay after a crash yields the
/// same ids, so consumers deduplicate on event_id.
struct Event {
  std::string event_id;      ///< "<commit LSN>/<index within the transaction>"
  std::string type;          ///< order.waiting, order.reserved, order.confirmed, order.cancelled,
                             ///< order.expired, payment_link.ready, inventory.changed, item.created
  std::string lsn;           ///< the transaction's commit LSN, e.g. "0/16B3748"
  std::string committed_at;  ///< RFC 3339 UTC
  std::string item_id;
  std::string order_id;  ///< empty for item events
  std::string user_id;   ///< empty for item events
  nlohmann::json data = nlohmann::json::object();

  /// The SPEC §5 envelope.
  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json j = {{"event_id", event_id},         {"type", type},       {"lsn", lsn},
                        {"committed_at", committed_at}, {"item_id", item_id}, {"data", data}};
    if (!order_id.empty()) j["order_id"] = order_id;
    if (!user_id.empty()) j["user_id"] = user_id;
    return j;
  }
};

/// A time as the API writes every time: RFC 3339, UTC, milliseconds
/// ("2026-11-24T10:00:00.123Z"), from microseconds since 1970.
inline std::string rfc3339(std::int64_t unix_us) {
  const auto secs = static_cast<std::time_t>(unix_us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char out[64];  // room for any int the fields could hold
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((unix_us / 1000) % 1000));
  return out;
}

/// Now, as microseconds since 1970 (the unit of rfc3339 and EventBatch::commit_unix_us).
inline std::int64_t now_unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A WAL position as PostgreSQL prints a pg_lsn, "16/B374D848" (1 to 8 hex digits per half,
/// either case); nullopt on any other text.
inline std::optional<std::uint64_t> parse_lsn(std::string_view text) {
  auto half = [](std::string_view digits) -> std::optional<std::uint32_t> {
    if (digits.empty() || digits.size() > 8) return std::nullopt;
    std::uint32_t value = 0;
    for (const char c : digits) {
      std::uint32_t d = 0;
      if (c >= '0' && c <= '9') {
        d = static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<std::uint32_t>(c - 'A' + 10);
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<std::uint32_t>(c - 'a' + 10);
      } else {
        return std::nullopt;
      }
      value = (value << 4) | d;
    }
    return value;
  };
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto high = half(text.substr(0, slash));
  const auto low = half(text.substr(slash + 1));
  if (!high || !low) return std::nullopt;
  return (static_cast<std::uint64_t>(*high) << 32) | *low;
}

/// Where an event stands in the log: its transaction's commit LSN, then its index within the
/// transaction. Events compare in commit order.
struct EventPosition {
  std::uint64_t lsn = 0;
  std::uint32_t index = 0;
  auto operator<=>(const EventPosition&) const = default;
};

/// The position an event_id ("0/16B3748/2") names; nullopt on any other text.
inline std::optional<EventPosition> parse_event_id(std::string_view id) {
  const auto slash = id.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto lsn = parse_lsn(id.substr(0, slash));
  const auto digits = id.substr(slash + 1);
  if (!lsn || digits.empty() || digits.size() > 10) return std::nullopt;
  std::uint64_t index = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (index > UINT32_MAX) return std::nullopt;
  return EventPosition{*lsn, static_cast<std::uint32_t>(index)};
}

/// The events of one committed transaction — or, as a consumer receives them, of several
/// consecutive ones — in commit order. A batch with no events still carries its position, so
/// acknowledgements can move past it.
struct EventBatch {
  std::uint64_t end_lsn = 0;        ///< acknowledge this once the batch is durably handled
  std::int64_t commit_unix_us = 0;  ///< commit time, microseconds since 1970
  std::vector<Event> events;
};

/// Where an event source delivers; implemented by the host's event bus. Thread-safe.
class BOOST_SYMBOL_VISIBLE EventSink {
 public:
  virtual ~EventSink() = default;
  /// Hands over one transaction, in commit order. Blocks while a consumer is too far behind
  /// (backpressure), so memory stays bounded. Batches at or below a position already
  /// published are ignored (a re-delivered tail after a reconnect).
  virtual void publish(EventBatch batch) = 0;
  /// The end LSN of the last transaction every consumer has durably handled; the position the
  /// source may acknowledge to the database. 0 before anything was handled.
  [[nodiscard]] virtual std::uint64_t acknowledged() const = 0;
  /// True when every published batch is handled (nothing in flight).
  [[nodiscard]] virtual bool idle() const = 0;
};

/// Something that acts on events: the admin stream, push routing, job scheduling.
class BOOST_SYMBOL_VISIBLE EventConsumer {
 public:
  virtual ~EventConsumer() = default;
  /// Short name for logs and metrics.
  [[nodiscard]] virtual std::string name() const = 0;
  /// Handles the events of the subscribed types of one or more consecutive transactions (all
  /// that queued up meanwhile), in commit order, on the consumer's own thread; returns once they
  /// are durably handled. Called again with the same
  /// events after a crash (at-least-once): deduplicate on event_id. Throwing means "not
  /// handled": the bus retries after a pause and does not move past the batch.
  virtual void handle(const EventBatch& batch) = 0;
};

}  // namespace v1
}  // namespace flashsale::sdk
