// See admin_stream.hpp.
#include "api/admin_stream.hpp"

#include <algorithm>
#include <flashsale/sdk/storage.hpp>

#include "worker_pool.hpp"

namespace flashsale::api {

AdminStream::AdminStream(sdk::Storage& storage, WorkerPool& workers)
    : storage_(storage), workers_(workers) {}

void AdminStream::handle(const sdk::EventBatch& batch) {
  // A few events at a time: serializing and sending interleaved lets the clients' writers
  // drain while the rest is serialized (a 20,000-event transaction queued at once would fill
  // every queue past its cap).
  constexpr std::size_t kChunk = 64;
  // Each event's position (kept in recent_ when it has one) and its frame.
  std::vector<std::pair<std::optional<sdk::EventPosition>, std::shared_ptr<const std::string>>>
      frames;
  std::vector<std::shared_ptr<http::WebSocket>> live;
  for (std::size_t begin = 0; begin < batch.events.size(); begin += kChunk) {
    const auto end = std::min(batch.events.size(), begin + kChunk);
    frames.clear();
    // One serialization per event, shared by every client's queue and the recent window.
    for (auto i = begin; i < end; ++i) {
      const auto& event = batch.events[i];
      frames.emplace_back(sdk::parse_event_id(event.event_id),
                          std::make_shared<const std::string>(event.to_json().dump()));
    }
    live.clear();
    {
      std::lock_guard lock(mutex_);
      // A client registers either before this (it gets these events live) or after (its
      // replay has them from recent_), never both and never neither.
      for (const auto& [at, frame] : frames) {
        if (!at) continue;  // an id that names no position: sent live, but not resumable
        if (!first_) first_ = *at;
        recent_.push_back({*at, frame});
      }
      while (recent_.size() > kRecentEvents) {
        evicted_ = recent_.front().at;
        recent_.pop_front();
      }
      std::erase_if(clients_, [](const auto& weak) { return weak.expired(); });
      for (const auto& weak : clients_) {
        if (auto client = weak.lock()) live.push_back(std::move(client));
      }
    }
    // Never waits: a client that does not keep up is closed by its own queue, so it cannot
    // hold back this consumer (and through the bus's bounded queues, every other one).
    for (const auto& f : frames) {
      for (const auto& client : live) client->send_shared(f.second);
    }
  }
}

void AdminStream::connect(const std::shared_ptr<http::WebSocket>& client,
                          std::optional<std::string> since_id) {
  const auto since = since_id ? sdk::parse_event_id(*since_id) : std::nullopt;
  std::vector<std::shared_ptr<const std::string>> replay;
  bool complete = true;
  {
    std::lock_guard lock(mutex_);
    clients_.push_back(client);
    if (since) {
      // Complete when every event after `since` passed through this process and is still
      // held: not when `since` is older than the first event it saw (e.g. from before a
      // restart, or on another replica), nor when events after it were dropped.
      const sdk::EventPosition at = *since;
      complete = first_ && at >= *first_ && (!evicted_ || at >= *evicted_);
      const auto after =
          std::upper_bound(recent_.begin(), recent_.end(), at,
                           [](const auto& at, const Recent& r) { return at < r.at; });
      for (auto it = after; it != recent_.end(); ++it) replay.push_back(it->frame);
    }
  }
  // Registered first, snapshot second: no event can fall between the two. Events that the
  // snapshot already reflects may follow it; they carry absolute values, so applying them
  // again changes nothing.
  const bool queued = workers_.try_post(
      [this, client, since_id = std::move(since_id), complete, replay = std::move(replay)] {
        const auto items = storage_.list_items();
        if (!items.ok()) return client->close("snapshot failed: " + items.message);
        auto snapshot = nlohmann::json::parse(items.body);
        snapshot["type"] = "snapshot";
        // The dashboard counts down against the server's clock: it corrects its own by this.
        snapshot["server_time"] = sdk::rfc3339(sdk::now_unix_us());
        if (since_id) {
          snapshot["resume"] = {
              {"since", *since_id}, {"complete", complete}, {"replayed", replay.size()}};
        }
        std::vector<std::shared_ptr<const std::string>> first = replay;
        first.push_back(std::make_shared<const std::string>(snapshot.dump()));
        client->release(std::move(first));
      });
  if (!queued) client->close("overloaded: retry shortly");
}

void add_admin_stream_route(http::Router& router, const std::shared_ptr<AdminStream>& stream) {
  router.add_websocket(
      "/admin/stream",
      [stream](const http::Request& req, const std::shared_ptr<http::WebSocket>& client) {
        const auto since = req.query.find("since");
        if (since == req.query.end()) return stream->connect(client, std::nullopt);
        // Refused after the upgrade, so that the dashboard can tell it from any other failure
        // and start afresh.
        if (!sdk::parse_event_id(since->second)) {
          return client->refuse(
              "since must be an event_id as the stream sent it, like 0/16B3748/0");
        }
        stream->connect(client, since->second);
      },
      [](const http::Request& req) -> std::optional<http::Response> {
        for (const auto& [key, value] : req.query) {
          if (key != "since") {
            return http::error_response(
                400, "bad_request", "unknown query parameter '" + key + "'; only since is known");
          }
        }
        return std::nullopt;
      });
}

}  // namespace flashsale::api
