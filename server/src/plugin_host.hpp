// Loads the configured plugins with Boost.DLL, checks each descriptor before running any of
// the plugin's code, and owns the plugin objects and their libraries for the process lifetime.
#pragma once

#include <boost/dll/shared_library.hpp>
#include <flashsale/sdk/event_source.hpp>
#include <flashsale/sdk/event_stream.hpp>
#include <flashsale/sdk/plugin.hpp>
#include <flashsale/sdk/push.hpp>
#include <flashsale/sdk/scheduler.hpp>
#include <flashsale/sdk/storage.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config.hpp"

namespace flashsale {

class EventBus;
class Metrics;

/// A plugin the host would not load; what() is one line naming the file and the reason.
class PluginRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LoadedPlugin {
  // Declared first so it is destroyed last: objects made by a plugin point into its code.
  boost::dll::shared_library library;
  std::string path;
  std::string name;
  std::string kind;
  std::string version;
  std::vector<std::string> requirements;  ///< names of the plugins it needs (its descriptor's)
  bool required = true;
  std::unique_ptr<sdk::HostContext> context;
  std::unique_ptr<sdk::Plugin> object;
  std::vector<sdk::UserStreamRoute> user_streams;  ///< asked for by its factory
  bool migrated = false;
  bool started = false;
  /// Why an optional plugin's start() failed; the host goes on without it.
  std::string start_failure;
};

struct PluginHealth {
  std::string name, kind, version;
  bool required = true;
  bool ok = false;
  std::string detail;
};

class PluginHost {
 public:
  PluginHost(const Config& config, std::string database_url, Metrics& metrics, EventBus& events);
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  /// Loads one plugin or throws PluginRefused.
  LoadedPlugin& load(const PluginEntry& entry);
  /// Loads every configured plugin. A refused optional plugin is logged and skipped; a refused
  /// required one, or no storage plugin at all, throws PluginRefused. A plugin whose
  /// requirements (its descriptor's) are not loaded is refused too.
  void load_all();
  /// Calls every plugin's migrate(), each after those it requires. A migration conflict throws
  /// pg::MigrationError naming the plugin; any other failure std::runtime_error.
  void migrate_all();
  /// Starts the plugins of `kind` not started yet, in load order. A required plugin whose
  /// start() throws stops start-up (PluginRefused); an optional one is logged in one line and
  /// left out from then on (no push deliveries, no routes), as if it had failed to load.
  void start(std::string_view kind);
  /// Starts every plugin not started yet, in load order but the event sources last, so that
  /// every event consumer subscribed before is there for the first event.
  void start_all();
  /// Stops the started plugins of `kind`, in reverse start order.
  void stop(std::string_view kind);
  /// Stops started plugins in reverse start order; safe to call twice.
  void stop_all();

  /// Where a bare plugin name is looked up: plugins.dir, or lib/flashsale beside bin/.
  [[nodiscard]] std::filesystem::path plugins_dir() const;
  [[nodiscard]] const std::vector<std::unique_ptr<LoadedPlugin>>& plugins() const {
    return plugins_;
  }
  /// The storage plugin; load_all() guarantees there is one.
  [[nodiscard]] sdk::Storage& storage() const;
  /// The scheduler plugin, or null when none is configured.
  [[nodiscard]] sdk::Scheduler* scheduler() const;
  /// The event stream plugin, or null when none is configured (a single process).
  [[nodiscard]] sdk::EventStream* event_stream() const;
  /// The event source plugin, or null when none is configured.
  [[nodiscard]] sdk::EventSource* event_source() const;
  /// The push plugins, in load order, but those that failed to start.
  [[nodiscard]] std::vector<std::pair<std::string, sdk::PushChannel*>> push_channels() const;
  /// WebSocket routes plugins asked for (HostContext::add_user_stream), but those of plugins that
  /// failed to start.
  [[nodiscard]] std::vector<sdk::UserStreamRoute> user_streams() const;
  /// Calls every plugin's health(); blocks (run it on a worker).
  [[nodiscard]] std::vector<PluginHealth> health() const;

 private:
  const Config& config_;
  std::string database_url_;
  Metrics& metrics_;
  EventBus& events_;
  // Checks a loaded library's descriptor and makes its object; throws refuse(reason).
  template <typename Refuse>
  void admit(LoadedPlugin& plugin, const Refuse& refuse);
  void start_one(LoadedPlugin& plugin);
  void stop_one(LoadedPlugin& plugin);
  // Refuses plugins whose requirements are not loaded (after load_all's loop).
  void check_requirements();
  [[nodiscard]] const LoadedPlugin* find(const std::string& name) const;
  // The first loaded plugin that implements T, or nullptr.
  template <typename T>
  [[nodiscard]] T* first() const;

  std::vector<boost::dll::shared_library> refused_libraries_;  // never unloaded, see load()
  std::vector<std::unique_ptr<LoadedPlugin>> plugins_;
  std::vector<LoadedPlugin*> started_;  // in start order
};

}  // namespace flashsale
