// Test helpers for plugin authors: header-only, for test programs (never include it in a plugin).
// Not part of the plugin ABI.
//
//   TestHost     stands in for the host: hands the plugin the config the test chose, and records
//                what the plugin does with the host (log lines, metrics, published events,
//                subscriptions, WebSocket routes).
//   TestClient   a WebSocket connection that records the frames a plugin sends to it.
//   load_plugin  loads a built plugin library as the host does and makes its object.
//
//   namespace t = flashsale::sdk::testing;
//   t::TestHost host(nlohmann::json{{"level", "debug"}});  // its `plugin.<name>` settings
//   auto loaded = t::load_plugin<flashsale::sdk::PushChannel>("lib/flashsale/x.so", host);
//   loaded.plugin->deliver(notification);
//   REQUIRE(host.logs().size() == 1);
#pragma once

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flashsale/sdk/kinds.hpp"

namespace flashsale::sdk {
inline namespace v1 {
namespace testing {

/// One line a plugin wrote with HostContext::log().
struct LogLine {
  LogLevel level;
  std::string message;
};

/// One HostContext::subscribe() call.
struct Subscription {
  std::vector<std::string> types;
  std::shared_ptr<EventConsumer> consumer;  ///< call consumer->handle(batch) to feed it
};

/// A HostContext for tests. Thread-safe, like the real one. Unlike the host it runs nothing by
/// itself: no consumer threads, no listeners — the test drives what it recorded.
class TestHost final : public HostContext {
 public:
  /// `config` is what the plugin sees as its `plugin.<name>` section:
  /// `TestHost host(nlohmann::json{{"level", "debug"}});`
  explicit TestHost(nlohmann::json config = nlohmann::json::object())
      : config_(std::move(config)) {}
  /// What database_url() answers ("postgresql://unused" until set). Set it before loading.
  void set_database_url(std::string url) { database_url_ = std::move(url); }
  /// What plugin_name() answers; load_plugin() sets it to the descriptor's name.
  void set_plugin_name(std::string name) { plugin_name_ = std::move(name); }
  /// What node_id() answers ("test-node" until set).
  void set_node_id(std::string id) { node_id_ = std::move(id); }
  /// The notifications replay_notifications() gives (all of them, whatever the user and
  /// position), and what it answers; by default none and false, as with no event stream.
  void set_replay(std::vector<Notification> notifications, bool complete) {
    std::lock_guard lock(mutex_);
    replay_ = std::move(notifications);
    replay_complete_ = complete;
  }

  [[nodiscard]] const std::string& plugin_name() const override { return plugin_name_; }
  [[nodiscard]] const std::string& node_id() const override { return node_id_; }
  [[nodiscard]] const nlohmann::json& config() const override { return config_; }
  [[nodiscard]] const std::string& database_url() const override { return database_url_; }
  void log(LogLevel level, std::string_view message) override {
    std::lock_guard lock(mutex_);
    logs_.push_back({level, std::string(message)});
  }
  [[nodiscard]] prometheus::Registry& metrics() override { return registry_; }
  /// Records each published batch; acknowledged() is the highest end_lsn published.
  [[nodiscard]] EventSink& event_sink() override { return sink_; }
  void subscribe(std::vector<std::string> types, std::shared_ptr<EventConsumer> consumer) override {
    std::lock_guard lock(mutex_);
    subscriptions_.push_back({std::move(types), std::move(consumer)});
  }
  bool replay_notifications(const std::string&, EventPosition,
                            const std::function<void(const Notification&)>& each) override {
    std::vector<Notification> replay;
    bool complete = false;
    {
      std::lock_guard lock(mutex_);
      replay = replay_;
      complete = replay_complete_;
    }
    for (const auto& n : replay) each(n);
    return complete;
  }
  /// Refuses what the host refuses (no path like /v1/stream, no check or open, a path already
  /// added) with std::invalid_argument; records the rest.
  void add_user_stream(UserStreamRoute route) override {
    if (route.path.size() < 2 || route.path.front() != '/' || !route.check || !route.open) {
      throw std::invalid_argument("add_user_stream: needs a path like /v1/stream, check and open");
    }
    std::lock_guard lock(mutex_);
    for (const auto& other : routes_) {
      if (other.path == route.path) {
        throw std::invalid_argument("add_user_stream: " + route.path + " is already served");
      }
    }
    routes_.push_back(std::move(route));
  }

  /// What the plugin logged, in order.
  [[nodiscard]] std::vector<LogLine> logs() const {
    std::lock_guard lock(mutex_);
    return logs_;
  }
  /// The registry in the Prometheus text format, as /metrics would serve it.
  [[nodiscard]] std::string metrics_text() const {
    return prometheus::TextSerializer().Serialize(registry_.Collect());
  }
  /// The batches published to event_sink(), in order.
  [[nodiscard]] std::vector<EventBatch> published() const { return sink_.batches(); }
  [[nodiscard]] std::vector<Subscription> subscriptions() const {
    std::lock_guard lock(mutex_);
    return subscriptions_;
  }
  [[nodiscard]] std::vector<UserStreamRoute> user_streams() const {
    std::lock_guard lock(mutex_);
    return routes_;
  }

 private:
  class Sink final : public EventSink {
   public:
    void publish(EventBatch batch) override {
      std::lock_guard lock(mutex_);
      if (batch.end_lsn > acknowledged_) acknowledged_ = batch.end_lsn;
      batches_.push_back(std::move(batch));
    }
    [[nodiscard]] std::uint64_t acknowledged() const override {
      std::lock_guard lock(mutex_);
      return acknowledged_;
    }
    [[nodiscard]] bool idle() const override { return true; }
    [[nodiscard]] std::vector<EventBatch> batches() const {
      std::lock_guard lock(mutex_);
      return batches_;
    }

   private:
    mutable std::mutex mutex_;
    std::vector<EventBatch> batches_;
    std::uint64_t acknowledged_ = 0;
  };

  const nlohmann::json config_;
  std::string plugin_name_;
  std::string node_id_ = "test-node";
  std::string database_url_ = "postgresql://unused";
  prometheus::Registry registry_;
  Sink sink_;
  mutable std::mutex mutex_;
  std::vector<LogLine> logs_;
  std::vector<Subscription> subscriptions_;
  std::vector<UserStreamRoute> routes_;
  std::vector<Notification> replay_;
  bool replay_complete_ = false;
};

/// A WebSocket connection for a route's open(): records the frames sent and the close.
class TestClient final : public WebSocketClient {
 public:
  Sent send(std::string text) override {
    std::lock_guard lock(mutex_);
    if (closed_) return Sent::closed;
    frames_.push_back(std::move(text));
    return Sent::queued;
  }
  void close(std::string reason) override {
    std::lock_guard lock(mutex_);
    closed_ = true;
    close_reason_ = std::move(reason);
  }
  [[nodiscard]] std::vector<std::string> frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  [[nodiscard]] bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  [[nodiscard]] std::string close_reason() const {
    std::lock_guard lock(mutex_);
    return close_reason_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> frames_;
  bool closed_ = false;
  std::string close_reason_;
};

/// A plugin made by load_plugin().
template <typename Kind>
struct Loaded {
  std::unique_ptr<Kind> plugin;
  /// Its strings point into the library, which stays loaded for the life of the process.
  PluginDescriptor descriptor;
};

namespace detail {

inline std::runtime_error refused(const std::filesystem::path& path, const std::string& reason) {
  return std::runtime_error("plugin " + path.string() + " refused: " + reason);
}

// Libraries are never unloaded (ADR 0001): objects, exceptions and type information a plugin
// made point into its code. The list is reachable until exit, so leak checkers stay quiet.
inline void keep_loaded(boost::dll::shared_library library) {
  static std::mutex mutex;
  static auto* const kept = new std::vector<boost::dll::shared_library>();
  std::lock_guard lock(mutex);
  kept->push_back(std::move(library));
}

}  // namespace detail

/// Loads the plugin library at `path` and makes its object with `host`, checking what the host
/// checks before it runs any plugin code: a `flashsale_plugin` descriptor in section
/// `fsplugin` (looked up without loading), its magic, ABI version and build id (exactly this
/// SDK's), a known kind, a name and a factory. With `Kind` a kind interface (e.g.
/// PushChannel) the descriptor must also declare that kind. Each refusal is a
/// std::runtime_error "plugin <path> refused: <reason>", worded as the host's (a test compares
/// the two); "host" there means this SDK, the one the test is built with. An exception
/// from the plugin's factory (e.g. std::invalid_argument for a bad config key) passes through
/// unchanged, where the host would wrap it in a refusal ("factory threw: ...").
///
/// The host also refuses what this cannot know about: a second plugin of the same name, or a
/// second storage, event_source or scheduler plugin.
template <typename Kind = Plugin>
Loaded<Kind> load_plugin(const std::filesystem::path& path, HostContext& host) {
  if (auto error = library_error(path)) throw detail::refused(path, *error);
  const PluginDescriptor* found = nullptr;
  try {
    boost::dll::shared_library library(path, boost::dll::load_mode::rtld_now);
    found = &library.get_alias<const PluginDescriptor>(kDescriptorAlias);
    detail::keep_loaded(std::move(library));
  } catch (const std::exception& e) {
    throw detail::refused(path, std::string("cannot be loaded: ") + e.what());
  }
  const PluginDescriptor& d = *found;
  if (auto error = descriptor_error(d)) throw detail::refused(path, *error);
  const std::string kind = d.kind;
  if constexpr (requires { Kind::kKind; }) {
    if (kind != Kind::kKind) {
      throw detail::refused(
          path, "kind mismatch: it is a " + kind + " plugin, not " + std::string(Kind::kKind));
    }
  }

  if (auto* test_host = dynamic_cast<TestHost*>(&host)) test_host->set_plugin_name(d.name);
  std::unique_ptr<Plugin> object(d.create(host));  // the plugin's exceptions pass through
  if (!object) throw detail::refused(path, "factory returned no object");
  if (dynamic_cast<Kind*>(object.get()) == nullptr || !implements(kind, object.get())) {
    throw detail::refused(path, "its object does not implement the " + kind + " interface");
  }
  return {std::unique_ptr<Kind>(dynamic_cast<Kind*>(object.release())), d};
}

}  // namespace testing
}  // namespace v1
}  // namespace flashsale::sdk
