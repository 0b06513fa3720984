// GET /admin/stream: a snapshot of every item on connect, then every domain event live, to
// each connected operator (SPEC §4). A consumer of the event bus.
#pragma once

#include <flashsale/sdk/events.hpp>
#include <flashsale/sdk/storage.hpp>
#include <memory>
#include <mutex>
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
  /// Registers `client`, then sends it the snapshot ahead of the events queued meanwhile.
  void connect(const std::shared_ptr<http::WebSocket>& client);

 private:
  sdk::Storage& storage_;
  WorkerPool& workers_;
  std::mutex mutex_;
  std::vector<std::weak_ptr<http::WebSocket>> clients_;
};

/// GET /admin/stream on `router`.
void add_admin_stream_route(http::Router& router, const std::shared_ptr<AdminStream>& stream);

}  // namespace flashsale::api
