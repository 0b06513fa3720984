// Service configuration: built-in defaults (config/flashsale.json, compiled in), an optional
// file merged over them, then FLASHSALE_* environment overrides; strictly validated.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace flashsale {

/// A configuration that cannot be used; the message names the key or variable and the reason.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
  [[nodiscard]] std::string to_string() const { return host + ":" + std::to_string(port); }
};

struct PluginEntry {
  std::string file;  ///< a name resolved in plugins.dir (".so" added) or a path
  bool required = true;
};

struct Config {
  nlohmann::json tree;  ///< the merged, validated document

  std::string node_id;       ///< this replica's name: cluster.node_id, or host name-pid
  std::string database_url;  ///< empty: run the embedded cluster
  std::filesystem::path embedded_dir;
  std::filesystem::path pg_bin_dir;  ///< empty: find PostgreSQL's binaries
  ListenAddress http_listen;
  ListenAddress admin_listen;
  int http_threads = 2;
  std::size_t max_connections = 10000;
  std::chrono::milliseconds read_timeout{15000};
  std::chrono::milliseconds websocket_idle_timeout{30000};
  std::string identity_header;
  std::string webhook_secret;
  std::string payment_provider_url;  ///< empty: the built-in fake provider
  std::chrono::milliseconds payment_provider_timeout{5000};
  int worker_threads = 4;
  std::size_t worker_queue_limit = 10000;
  std::chrono::milliseconds shutdown_grace{10000};
  std::chrono::milliseconds push_timeout{2000};
  std::string log_level;
  bool access_log = false;            ///< a line per HTTP request (log.access)
  std::filesystem::path plugins_dir;  ///< empty: lib/flashsale next to the binary's folder
  std::vector<PluginEntry> plugins;

  /// FLASHSALE_PLUGIN_<NAME>_<KEY> variables that name no key of the file: a plugin's setting,
  /// checked by that plugin (variable -> value).
  std::map<std::string, std::string> plugin_variables;

  /// The `plugin.<name>` section (or an empty object) with that plugin's variables merged in: a
  /// value that reads as JSON as JSON, any other as a string.
  [[nodiscard]] nlohmann::json plugin_config(const std::string& name) const;
  /// The plugin variables that belong to none of the plugins named (e.g. a misspelt plugin).
  [[nodiscard]] std::vector<std::string> unclaimed_plugin_variables(
      const std::vector<std::string>& plugin_names) const;
};

/// The compiled-in defaults (the text of config/flashsale.json).
const nlohmann::json& default_config();

/// Builds the configuration from the defaults, `file` (if given) and the FLASHSALE_* entries of
/// `env`. Throws ConfigError for an unreadable file, malformed JSON, an unknown key or variable,
/// a value of the wrong type or out of range.
Config load_config(const std::optional<std::filesystem::path>& file,
                   const std::map<std::string, std::string>& env);

/// The FLASHSALE_* variables of this process's environment.
std::map<std::string, std::string> flashsale_environment();

}  // namespace flashsale
