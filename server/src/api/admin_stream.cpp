// See admin_stream.hpp.
#include "api/admin_stream.hpp"

#include <flashsale/sdk/storage.hpp>

#include "worker_pool.hpp"

namespace flashsale::api {

AdminStream::AdminStream(sdk::Storage& storage, WorkerPool& workers)
    : storage_(storage), workers_(workers) {}

void AdminStream::handle(const sdk::EventBatch& batch) {
  std::vector<std::shared_ptr<http::WebSocket>> live;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(clients_, [](const auto& weak) { return weak.expired(); });
    for (const auto& weak : clients_) {
      if (auto client = weak.lock()) live.push_back(std::move(client));
    }
  }
  // One serialization per event, shared by every client's queue. Never waits: a client that
  // does not keep up is closed by its own queue, so it cannot hold back this consumer (and
  // through the bus's bounded queues, every other one).
  for (const auto& event : batch.events) {
    const auto frame = std::make_shared<const std::string>(event.to_json().dump());
    for (const auto& client : live) client->send_shared(frame);
  }
}

void AdminStream::connect(const std::shared_ptr<http::WebSocket>& client) {
  {
    std::lock_guard lock(mutex_);
    clients_.push_back(client);
  }
  // Registered first, snapshot second: no event can fall between the two. Events that the
  // snapshot already reflects may follow it; they carry absolute values, so applying them
  // again changes nothing.
  const bool queued = workers_.try_post([this, client] {
    const auto items = storage_.list_items();
    if (!items.ok()) return client->close("snapshot failed: " + items.message);
    auto snapshot = nlohmann::json::parse(items.body);
    snapshot["type"] = "snapshot";
    // The dashboard counts down against the server's clock: it corrects its own by this.
    snapshot["server_time"] = sdk::rfc3339(sdk::now_unix_us());
    client->release(snapshot.dump());
  });
  if (!queued) client->close("overloaded: retry shortly");
}

void add_admin_stream_route(http::Router& router, const std::shared_ptr<AdminStream>& stream) {
  router.add_websocket("/admin/stream", [stream](const http::Request&,
                                                 const std::shared_ptr<http::WebSocket>& client) {
    stream->connect(client);
  });
}

}  // namespace flashsale::api
