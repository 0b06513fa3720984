// `flashsale events tail`: prints the JetStream event stream (docs/events.md) as JSON lines, so
// an operator can watch it without installing a NATS client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace flashsale::cli {

struct EventsOptions {
  std::string servers;             ///< comma-separated nats:// URLs
  std::string stream;              ///< the JetStream stream's name
  std::string subject_prefix;      ///< its subjects are <prefix>.<item>.<type>
  std::string item;                ///< only this item's events when not empty
  std::uint64_t since = 0;         ///< from this stream sequence; 0: only new events
  std::optional<long long> count;  ///< stop after this many events
};

/// Prints each event (its body with "seq", the stream sequence, added) on a line of its own
/// until `count` events or SIGINT/SIGTERM; returns the exit code (0, or 1 when NATS or the
/// stream cannot be reached).
int events_tail(const EventsOptions& options);

}  // namespace flashsale::cli
