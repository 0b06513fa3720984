// push/websocket: GET /v1/stream on the public listener (SPEC §3). Each identified user may hold
// several connections; each receives only that user's order events, as SPEC §5 envelopes, one a
// frame. The channel keeps the last `replay_window` notifications (no more than
// `replay_window_kib` of them), so a client reconnecting with ?since=<event_id> gets what it
// missed. When the window does not reach back to since= (the client comes from another replica, or
// this one restarted), the rest comes from the host's event stream, on a thread of its own so no
// listener waits for it. A client whose send queue is full is closed ("too slow"); it reconnects
// with since= and loses nothing still kept.
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <flashsale/sdk/push.hpp>
#include <flashsale/sdk/settings.hpp>
#include <flashsale/sdk/threads.hpp>
#include <flashsale/sdk/websocket.hpp>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace flashsale::plugins::websocket {
namespace {

struct Settings {
  std::size_t replay_window = 100000;
  std::size_t replay_window_bytes = 32 << 20;
};

// The users map is swept of those who left (no client, nothing in the window) when it reaches
// twice its size after the last sweep, and not below this: amortized O(1) per connection.
constexpr std::size_t kMinSweep = 1024;

Settings parse_settings(const sdk::HostContext& host) {
  sdk::Settings in(host);
  Settings s;
  s.replay_window = static_cast<std::size_t>(in.integer("replay_window", 100000, 0, 10000000));
  s.replay_window_bytes =
      static_cast<std::size_t>(in.integer("replay_window_kib", 32768, 0, 1 << 30)) << 10;
  in.done();
  return s;
}

}  // namespace

class WebSocketChannel final : public sdk::PushChannel {
 public:
  explicit WebSocketChannel(sdk::HostContext& host)
      : host_(host),
        settings_(parse_settings(host)),
        users_gauge_(prometheus::BuildGauge()
                         .Name("flashsale_ws_stream_users")
                         .Help("Users /v1/stream keeps state for: connected, or with events in "
                               "the replay window")
                         .Register(host.metrics())
                         .Add({})),
        window_gauge_(prometheus::BuildGauge()
                          .Name("flashsale_ws_replay_window_bytes")
                          .Help("Memory the replay window holds: its frames, user ids and "
                                "their bookkeeping")
                          .Register(host.metrics())
                          .Add({})) {
    host.add_user_stream(
        {"/v1/stream", [](const sdk::UserStreamRequest& r) { return check(r); },
         [this](const sdk::UserStreamRequest& r,
                const std::shared_ptr<sdk::WebSocketClient>& client) { open(r, client); }});
  }

  void start() override {
    replayer_ = std::thread([this] { replay_loop(); });
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    replay_wanted_.notify_all();
    if (replayer_.joinable()) replayer_.join();
  }

  sdk::Delivery deliver(const sdk::Notification& n) override {
    const auto at = sdk::parse_event_id(n.event_id);
    if (!at) {
      return sdk::Delivery::failure("malformed event_id " + n.event_id);
    }
    std::lock_guard lock(mutex_);
    if (!first_) first_ = *at;
    auto& user = users_[n.user_id];
    // At-least-once upstream: a re-delivered event is already here (and was sent).
    if (!user.recent.empty() && *at <= user.recent.back().at) return {};
    remember(n.user_id, user, *at, n.event_json);
    std::erase_if(user.clients, [&](const std::weak_ptr<sdk::WebSocketClient>& weak) {
      auto client = weak.lock();
      return !client || !send(*client, n.event_json);
    });
    if (user.clients.empty() && user.recent.empty()) users_.erase(n.user_id);
    users_gauge_.Set(static_cast<double>(users_.size()));
    return {};
  }

 private:
  struct Entry {
    sdk::EventPosition at;
    std::string frame;
  };
  struct User {
    std::deque<Entry> recent;  // this user's part of the replay window, oldest first
    std::vector<std::weak_ptr<sdk::WebSocketClient>> clients;
  };
  struct Replay {  // a client waiting for what the window does not hold
    std::string user_id;
    sdk::EventPosition since;
    std::weak_ptr<sdk::WebSocketClient> client;
  };

  static std::string check(const sdk::UserStreamRequest& request) {
    for (const auto& [key, value] : request.query) {
      if (key != "since") return "unknown query parameter '" + key + "'; only since is known";
      if (!sdk::parse_event_id(value)) {
        return "since must be an event_id as the stream sent it, like 0/16B3748/0";
      }
    }
    return {};
  }

  // Queues the hello frame and the missed events; the host sends them once open() returns. What
  // the window does not hold is looked up in the event stream first (replay_loop).
  void open(const sdk::UserStreamRequest& request,
            const std::shared_ptr<sdk::WebSocketClient>& client) {
    std::optional<sdk::EventPosition> since;
    if (auto it = request.query.find("since"); it != request.query.end()) {
      since = sdk::parse_event_id(it->second);
    }
    std::lock_guard lock(mutex_);
    // The window is enough when every event after `since` passed through this process and is
    // still in it: not when `since` is older than the first event it saw (e.g. from before a
    // restart), nor when events after `since` were evicted.
    if (since && !(first_ && *since >= *first_ && (!evicted_ || *since >= *evicted_))) {
      replays_.push_back({request.user_id, *since, client});
      replay_wanted_.notify_one();
      return;
    }
    attach(request.user_id, since, {}, true, client);
  }

  // Sends the hello frame, `earlier` (from the stream, in order), then what the window holds
  // after `after` (nothing without), and adds the client to its user's. Under mutex_.
  void attach(const std::string& user_id, std::optional<sdk::EventPosition> after,
              const std::vector<const std::string*>& earlier, bool complete,
              const std::shared_ptr<sdk::WebSocketClient>& client) {
    if (users_.size() >= sweep_at_) {
      // A user whose clients all left and who gets no more events would stay forever.
      for (auto it = users_.begin(); it != users_.end();) {
        it = forget_left(it->second) ? users_.erase(it) : std::next(it);
      }
      sweep_at_ = std::max(kMinSweep, 2 * users_.size());
    }
    auto& user = users_[user_id];
    users_gauge_.Set(static_cast<double>(users_.size()));
    std::vector<const std::string*> missed = earlier;
    for (const auto& e : user.recent) {
      if (after && e.at > *after) missed.push_back(&e.frame);
    }
    nlohmann::json hello = {{"type", "stream.ready"},
                            {"user_id", user_id},
                            {"replayed", missed.size()},
                            {"complete", complete}};
    if (!send(*client, hello.dump())) return;
    for (const auto* frame : missed) {
      if (!send(*client, *frame)) return;
    }
    forget_left(user);
    user.clients.push_back(client);
  }

  // Drops the user's clients that are gone; true when nothing of the user is left.
  static bool forget_left(User& user) {
    std::erase_if(user.clients, [](const auto& weak) { return weak.expired(); });
    return user.clients.empty() && user.recent.empty();
  }

  // The replays the window could not serve, one at a time: the user's events after `since` from
  // the host's event stream (none without one), then on as attach() does.
  void replay_loop() {
    sdk::name_this_thread("ws-replay");
    std::unique_lock lock(mutex_);
    while (true) {
      replay_wanted_.wait(lock, [this] { return stopping_ || !replays_.empty(); });
      if (stopping_) return;
      Replay r = std::move(replays_.front());
      replays_.pop_front();
      lock.unlock();
      std::vector<std::pair<sdk::EventPosition, std::string>> found;
      bool complete = false;
      try {
        complete = host_.replay_notifications(r.user_id, r.since, [&](const sdk::Notification& n) {
          if (auto at = sdk::parse_event_id(n.event_id)) found.emplace_back(*at, n.event_json);
        });
      } catch (const std::exception& e) {
        host_.log(sdk::LogLevel::warn, std::string("replay from the event stream: ") + e.what());
      }
      lock.lock();
      const auto client = r.client.lock();
      if (!client) continue;
      std::vector<const std::string*> earlier;
      earlier.reserve(found.size());
      for (const auto& f : found) earlier.push_back(&f.second);
      attach(r.user_id, found.empty() ? r.since : found.back().first, earlier, complete, client);
    }
  }

  // Sends one frame; a client that does not keep up is closed. False when it is gone.
  static bool send(sdk::WebSocketClient& client, const std::string& frame) {
    switch (client.send(frame)) {
      case sdk::WebSocketClient::Sent::queued:
        return true;
      case sdk::WebSocketClient::Sent::full:
        client.close("too slow: the client does not keep up; reconnect with since=");
        return false;
      case sdk::WebSocketClient::Sent::closed:
        return false;
    }
    return false;
  }

  // What an entry of the window costs: its frame and its user's id, each with a string's
  // bookkeeping, and the entry itself.
  static std::size_t cost(const std::string& user_id, const std::string& frame) {
    return sizeof(Entry) + frame.size() + sizeof(std::string) + user_id.size();
  }

  void remember(const std::string& user_id, User& user, sdk::EventPosition at,
                const std::string& frame) {
    if (settings_.replay_window == 0 || settings_.replay_window_bytes == 0) return;
    user.recent.push_back({at, frame});
    order_.push_back(user_id);
    window_bytes_ += cost(user_id, frame);
    // The newest entry stays, whatever its size: it is `user`'s, whom the caller still uses.
    while (order_.size() > settings_.replay_window ||
           (order_.size() > 1 && window_bytes_ > settings_.replay_window_bytes)) {
      // The oldest entry overall is the front of its user's deque.
      auto it = users_.find(order_.front());
      order_.pop_front();
      if (it == users_.end() || it->second.recent.empty()) continue;
      auto& oldest = it->second.recent.front();
      window_bytes_ -= cost(it->first, oldest.frame);
      evicted_ = std::max(evicted_.value_or(sdk::EventPosition{}), oldest.at);
      it->second.recent.pop_front();
      if (forget_left(it->second)) users_.erase(it);
    }
    window_gauge_.Set(static_cast<double>(window_bytes_));
  }

  sdk::HostContext& host_;
  const Settings settings_;
  std::mutex mutex_;
  std::condition_variable replay_wanted_;
  std::deque<Replay> replays_;  // clients waiting for the event stream's history
  bool stopping_ = false;
  std::thread replayer_;
  prometheus::Gauge& users_gauge_;
  prometheus::Gauge& window_gauge_;
  std::unordered_map<std::string, User> users_;
  std::size_t sweep_at_ = kMinSweep;           // users_.size() that starts the next sweep
  std::deque<std::string> order_;              // user of each entry in the window, oldest first
  std::size_t window_bytes_ = 0;               // the entries' cost()
  std::optional<sdk::EventPosition> first_;    // the first event this process delivered
  std::optional<sdk::EventPosition> evicted_;  // the newest position that left the window
};

}  // namespace flashsale::plugins::websocket

FLASHSALE_PLUGIN(flashsale::plugins::websocket::WebSocketChannel, "websocket", "1.0.0")
