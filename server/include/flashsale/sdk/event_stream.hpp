// Kind `event_stream`: carries the domain events between replicas and to other services
// (SPEC §10), e.g. NATS JetStream. Optional: without one, a single process does everything.
#pragma once

#include <functional>

#include "flashsale/sdk/events.hpp"
#include "flashsale/sdk/plugin.hpp"

namespace flashsale::sdk {
inline namespace v1 {

/// A durable, ordered log of domain events that every replica reads. The CDC leader appends
/// what it decodes; every replica follows the stream to feed its WebSocket clients and admin
/// stream; a reconnecting client's since= is answered from the stream's history.
class BOOST_SYMBOL_VISIBLE EventStream : public Plugin {
 public:
  static constexpr const char* kKind = "event_stream";

  /// On the leader: stores the batch's events, in order, each identified by its event_id (the
  /// stream drops one it already holds). Returns once the stream has acknowledged every one, so
  /// the log position after them may be acknowledged to the database; throws if it could not
  /// (the host retries the batch and acknowledges nothing past it).
  virtual void append(const EventBatch& batch) = 0;

  /// On every replica: from start() on, publishes to `sink` every event the stream stores
  /// from then on, whoever appended it, in stream order, one transaction per batch. Called
  /// once, before start(). sink.publish() blocks while a local consumer is behind.
  virtual void follow(EventSink& sink) = 0;

  /// The stored events after `since`, oldest first, up to the stream's end at the time of the
  /// call. False when the stream no longer holds all of them (retention), or cannot be read
  /// now; `each` has then been called for those it gave. Blocks.
  virtual bool replay(EventPosition since, const std::function<void(const Event&)>& each) = 0;
};

}  // namespace v1
}  // namespace flashsale::sdk
