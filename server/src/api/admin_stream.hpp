// GET /admin/stream: a snapshot of every item on connect, then every domain event live, to
// each connected operator (SPEC §4). A consumer of the event bus. With ?since=<event_id>, a
// reconnecting client first gets the events after it that this process still holds.
#pragma once

#include <deque>
#include <flashsale/sdk/events.hpp>
#include <flashsale/sdk/storage.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/router.hpp"
#include "worker_pool.hpp"

namespace flashsale::api {

class AdminStream final : public sdk::EventConsumer {
 public:
  AdminStream(sdk::Storage& storage, WorkerPool& workers);
  [[nodiscard]] std::string name() const override { return "admin_stream"; }
  /// Sends each event to every connected client, without waiting for any: a client whose queue
  /// stays full past its grace period is closed (http::WebSocket::send_shared).
  void handle(const sdk::EventBatch& batch) override;
  /// Registers `client`, then sends it the events after `since` that the recent window holds
  /// (with `since`), the snapshot, and the events queued meanwhile, in that order. The
  /// snapshot then says whether the replay was complete.
  /// `since_id`: an event_id the route checked (sdk::parse_event_id).
  void connect(const std::shared_ptr<http::WebSocket>& client,
               std::optional<std::string> since_id = std::nullopt);

  /// How many of the latest events are kept for clients that reconnect with since=.
  static constexpr std::size_t kRecentEvents = 20'000;

 private:
  struct Recent {
    sdk::EventPosition at;
    std::shared_ptr<const std::string> frame;
  };

  sdk::Storage& storage_;
  WorkerPool& workers_;
  std::mutex mutex_;
  std::vector<std::weak_ptr<http::WebSocket>> clients_;
  std::deque<Recent> recent_;                  // the latest events, oldest first
  std::optional<sdk::EventPosition> first_;    // the first event this process handled
  std::optional<sdk::EventPosition> evicted_;  // the newest event dropped from recent_
};

/// GET /admin/stream on `router`.
void add_admin_stream_route(http::Router& router, const std::shared_ptr<AdminStream>& stream);

}  // namespace flashsale::api
