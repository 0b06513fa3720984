// What the host offers a plugin: its config section, the database address, logging, metrics,
// the event bus and WebSocket routes. A plugin never sees "the server"; this narrow interface is
// the whole of the host it may use.
#pragma once

#include <boost/config.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "flashsale/sdk/events.hpp"
#include "flashsale/sdk/notification.hpp"
#include "flashsale/sdk/websocket.hpp"

namespace prometheus {
class Registry;
}

namespace flashsale::sdk {
inline namespace v1 {

/// Severity of a log line.
enum class LogLevel { debug, info, warn, error };

/// The host services handed to a plugin's factory. Lives as long as the plugin object.
/// Every member is thread-safe.
class BOOST_SYMBOL_VISIBLE HostContext {
 public:
  virtual ~HostContext() = default;

  /// The plugin's name, as its descriptor gives it: it selects `plugin.<name>` in the config.
  [[nodiscard]] virtual const std::string& plugin_name() const = 0;

  /// This plugin's configuration: the object at `plugin.<name>` in the config file, with the
  /// environment overrides FLASHSALE_PLUGIN_<NAME>_<KEY> merged in, or an empty object. Read it
  /// with sdk::Settings (settings.hpp), which refuses bad values and unknown keys.
  [[nodiscard]] virtual const nlohmann::json& config() const = 0;

  /// This replica's name (cluster.node_id): unique among the replicas of one database.
  [[nodiscard]] virtual const std::string& node_id() const = 0;

  /// libpq connection URL of the service database (the embedded cluster's when none is
  /// configured), with application_name "flashsale/<node id>/<plugin name>".
  [[nodiscard]] virtual const std::string& database_url() const = 0;

  /// Writes one log line, prefixed with the plugin's name.
  virtual void log(LogLevel level, std::string_view message) = 0;

  /// The process-wide Prometheus registry served at /metrics. Name metrics `flashsale_*`.
  [[nodiscard]] virtual prometheus::Registry& metrics() = 0;

  /// The event bus's input; only an event_source plugin publishes to it.
  [[nodiscard]] virtual EventSink& event_sink() = 0;
  /// Feeds `consumer` every event whose type is in `types` (all types when empty), from start()
  /// on. The log position is acknowledged only after every consumer handled a transaction.
  virtual void subscribe(std::vector<std::string> types,
                         std::shared_ptr<EventConsumer> consumer) = 0;

  /// The notifications for `user_id` of the events after `since`, oldest first, from the
  /// event stream's history (a client reconnecting with since= to a replica that did not see
  /// them). False when no event_stream plugin is loaded or its history does not reach back to
  /// `since`. Blocks.
  virtual bool replay_notifications(const std::string& user_id, EventPosition since,
                                    const std::function<void(const Notification&)>& each) = 0;

  /// Serves `route` on the public listener. Call it from the plugin's constructor (routes are
  /// fixed before the listeners open); a path already taken throws std::invalid_argument.
  virtual void add_user_stream(UserStreamRoute route) = 0;
};

}  // namespace v1
}  // namespace flashsale::sdk
