// Loading and validating the service configuration; see config.hpp.
#include "config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <string_view>

extern char** environ;

namespace flashsale {
namespace detail {
extern const char* const kDefaultConfigText;  // generated from config/flashsale.json
}

namespace {

using nlohmann::json;

// Sections whose keys belong to plugins; each plugin validates its own.
bool free_form(const std::string& path) { return path == "plugin"; }

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "null";
  }
}

bool same_type(const json& expected, const json& value) {
  if (expected.is_number_integer()) return value.is_number_integer();
  if (expected.is_number()) return value.is_number();
  return expected.type() == value.type();
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Overlays `over` onto `base`, refusing keys the defaults do not have and values of another type.
void overlay(json& base, const json& over, const std::string& path, const std::string& origin) {
  if (free_form(path)) {
    base.update(over, true);
    return;
  }
  for (const auto& [key, value] : over.items()) {
    const std::string p = join(path, key);
    if (!base.contains(key)) throw ConfigError(origin + ": unknown key '" + p + "'");
    json& target = base[key];
    if (!same_type(target, value)) {
      throw ConfigError(origin + ": '" + p + "' must be " + type_name(target) + ", not " +
                        type_name(value));
    }
    if (target.is_object()) {
      overlay(target, value, p, origin);
    } else {
      target = value;
    }
  }
}

std::string env_name(const std::string& path) {
  std::string name = "FLASHSALE_";
  for (char c : path) name += c == '.' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

void env_names(const json& node, const std::string& path, std::map<std::string, std::string>& out) {
  if (!path.empty()) out.emplace(env_name(path), path);
  if (!node.is_object()) return;
  for (const auto& [key, value] : node.items()) {
    // A plugin's key that a dotted path cannot name gets no variable of its own (its plugin's
    // FLASHSALE_PLUGIN_<NAME>_<KEY> still reaches it).
    if (key.empty() || key.find_first_of("./~") != std::string::npos) continue;
    env_names(value, join(path, key), out);
  }
}

// Whether each section on `path` is still an object with the next key: a variable for a section
// above (FLASHSALE_PLUGIN='{...}') may have replaced the one the key was in.
bool reachable(const json& tree, const std::string& path) {
  const json* node = &tree;
  std::stringstream in(path);
  for (std::string part; std::getline(in, part, '.');) {
    const auto it = node->find(part);
    if (!node->is_object() || it == node->end()) return false;
    node = &*it;
  }
  return true;
}

json::json_pointer pointer(const std::string& path) {
  std::string p;
  std::stringstream in(path);
  for (std::string part; std::getline(in, part, '.');) p += "/" + part;
  return json::json_pointer(p);
}

constexpr std::string_view kPluginVariable = "FLASHSALE_PLUGIN_";
constexpr std::size_t kMaxNodeId = 40;

// The prefix of plugin `name`'s variables: FLASHSALE_PLUGIN_POSTGRES_.
std::string plugin_prefix(const std::string& name) {
  std::string prefix(kPluginVariable);
  for (char c : name) prefix += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return prefix + "_";
}

// Applies the variables that name a key of `tree`; returns the plugin variables that name none
// (their plugin checks them once loaded).
std::map<std::string, std::string> apply_environment(
    json& tree, const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> names;
  env_names(tree, "", names);
  // Parents first, so FLASHSALE_PLUGIN='{...}' lands before a FLASHSALE_PLUGIN_X_Y beneath it.
  std::vector<std::pair<std::string, std::string>> ordered;
  std::map<std::string, std::string> plugin_variables;
  for (const auto& [var, text] : env) {
    auto it = names.find(var);
    if (it != names.end()) {
      ordered.emplace_back(it->second, text);
    } else if (var.rfind(kPluginVariable, 0) == 0 && var.size() > kPluginVariable.size()) {
      plugin_variables.emplace(var, text);
    } else {
      throw ConfigError("environment: " + var + " matches no config key");
    }
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first.size() < b.first.size(); });
  for (const auto& [path, text] : ordered) {
    const std::string origin = "environment " + env_name(path);
    if (!reachable(tree, path)) {
      throw ConfigError(origin + ": '" + path + "' is no key once the variables above it apply");
    }
    const auto ptr = pointer(path);
    json& target = tree.at(ptr);
    json value;
    if (target.is_string()) {
      value = text;
    } else {
      value = json::parse(text, nullptr, false);
      if (value.is_discarded()) {
        throw ConfigError(origin + ": '" + text + "' is not " + type_name(target));
      }
    }
    const std::string parent = ptr.parent_pointer().empty() ? "" : path.substr(0, path.rfind('.'));
    json wrapper = json::object({{ptr.back(), value}});
    overlay(tree.at(ptr.parent_pointer()), wrapper, parent, origin);
  }
  return plugin_variables;
}

ListenAddress parse_listen(const json& tree, const std::string& path) {
  const std::string text = tree.at(pointer(path)).get<std::string>();
  const auto colon = text.rfind(':');
  ListenAddress addr;
  if (colon != std::string::npos) {
    addr.host = text.substr(0, colon);
    if (addr.host.size() > 2 && addr.host.front() == '[' && addr.host.back() == ']') {
      addr.host = addr.host.substr(1, addr.host.size() - 2);
    }
    const std::string port = text.substr(colon + 1);
    const bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(c); });
    if (digits && std::stoi(port) <= 65535 && !addr.host.empty()) {
      addr.port = static_cast<std::uint16_t>(std::stoi(port));
      return addr;
    }
  }
  throw ConfigError("'" + path + "' must be HOST:PORT (port 0-65535), not '" + text + "'");
}

long long integer(const json& tree, const std::string& path, long long min, long long max) {
  const long long v = tree.at(pointer(path)).get<long long>();
  if (v < min || v > max) {
    throw ConfigError("'" + path + "' must be between " + std::to_string(min) + " and " +
                      std::to_string(max) + ", not " + std::to_string(v));
  }
  return v;
}

std::string one_of(const json& tree, const std::string& path,
                   const std::vector<std::string>& allowed) {
  std::string v = tree.at(pointer(path)).get<std::string>();
  if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return v;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw ConfigError("'" + path + "' must be one of " + list + ", not '" + v + "'");
}

std::vector<PluginEntry> parse_plugins(const json& list) {
  std::vector<PluginEntry> plugins;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = "'plugins.load[" + std::to_string(i) + "]'";
    const json& e = list[i];
    if (!e.is_object()) throw ConfigError(at + " must be an object {\"file\", \"required\"}");
    PluginEntry entry;
    for (const auto& [key, value] : e.items()) {
      if (key == "file" && value.is_string() && !value.get<std::string>().empty()) {
        entry.file = value.get<std::string>();
      } else if (key == "required" && value.is_boolean()) {
        entry.required = value.get<bool>();
      } else if (key == "file" || key == "required") {
        throw ConfigError(at + "." + key + " must be " +
                          (key == "file" ? "a non-empty string" : "a boolean"));
      } else {
        throw ConfigError(at + ": unknown key '" + key + "'");
      }
    }
    if (entry.file.empty()) throw ConfigError(at + " needs \"file\"");
    plugins.push_back(entry);
  }
  return plugins;
}

// cluster.node_id, or "<host name>-<pid>": it names this replica in logs, in the database's
// application_name (at most 63 bytes, with "flashsale/" and a plugin name) and in /admin/cluster.
std::string node_id(const json& tree) {
  std::string id = tree.at(pointer("cluster.node_id")).get<std::string>();
  const auto allowed = [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
  };
  if (!id.empty()) {
    if (id.size() > kMaxNodeId || !std::all_of(id.begin(), id.end(), allowed)) {
      throw ConfigError("'cluster.node_id' must be 1 to " + std::to_string(kMaxNodeId) +
                        " letters, digits, '.', '-' or '_', not '" + id + "'");
    }
    return id;
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  for (const char ch : std::string_view(host)) id += allowed(ch) ? ch : '_';
  const std::string pid = "-" + std::to_string(getpid());
  if (id.empty()) id = "node";
  return id.substr(0, kMaxNodeId - pid.size()) + pid;
}

}  // namespace

const json& default_config() {
  static const json defaults = json::parse(detail::kDefaultConfigText);
  return defaults;
}

json Config::plugin_config(const std::string& name) const {
  const json& section = tree.at("plugin");
  json config = section.contains(name) ? section.at(name) : json::object();
  if (!config.is_object()) return config;  // the plugin refuses it
  const std::string prefix = plugin_prefix(name);
  for (const auto& [var, text] : plugin_variables) {
    if (var.rfind(prefix, 0) != 0 || var.size() == prefix.size()) continue;
    std::string key = var.substr(prefix.size());
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    json value = json::parse(text, nullptr, false);
    config[key] = value.is_discarded() ? json(text) : std::move(value);
  }
  return config;
}

std::vector<std::string> Config::unclaimed_plugin_variables(
    const std::vector<std::string>& plugin_names) const {
  std::vector<std::string> unclaimed;
  for (const auto& entry : plugin_variables) {
    const std::string& var = entry.first;
    const bool claimed = std::any_of(plugin_names.begin(), plugin_names.end(), [&](auto& name) {
      const std::string prefix = plugin_prefix(name);
      return var.rfind(prefix, 0) == 0 && var.size() > prefix.size();
    });
    if (!claimed) unclaimed.push_back(var);
  }
  return unclaimed;
}

Config load_config(const std::optional<std::filesystem::path>& file,
                   const std::map<std::string, std::string>& env) {
  json tree = default_config();
  if (file) {
    std::ifstream in(*file);
    if (!in) throw ConfigError("config file " + file->string() + ": cannot be read");
    json doc = json::parse(in, nullptr, false);
    if (doc.is_discarded()) throw ConfigError("config file " + file->string() + ": not valid JSON");
    if (!doc.is_object())
      throw ConfigError("config file " + file->string() + ": must be an object");
    overlay(tree, doc, "", "config file " + file->string());
  }
  auto plugin_variables = apply_environment(tree, env);

  Config c;
  c.plugin_variables = std::move(plugin_variables);
  c.node_id = node_id(tree);
  c.database_url = tree.at(pointer("database.url")).get<std::string>();
  c.embedded_dir = tree.at(pointer("database.embedded.dir")).get<std::string>();
  c.pg_bin_dir = tree.at(pointer("database.embedded.bin_dir")).get<std::string>();
  if (c.database_url.empty() && c.embedded_dir.empty()) {
    throw ConfigError("'database.embedded.dir' must be set when 'database.url' is empty");
  }
  c.http_listen = parse_listen(tree, "http.listen");
  c.admin_listen = parse_listen(tree, "admin.listen");
  c.http_threads = static_cast<int>(integer(tree, "http.threads", 1, 256));
  c.max_connections = static_cast<std::size_t>(integer(tree, "http.max_connections", 1, 1000000));
  c.read_timeout = std::chrono::milliseconds(integer(tree, "http.read_timeout_ms", 100, 3600000));
  c.websocket_idle_timeout =
      std::chrono::milliseconds(integer(tree, "http.websocket_idle_timeout_ms", 1000, 3600000));
  c.identity_header = tree.at(pointer("identity.header")).get<std::string>();
  const bool token =
      !c.identity_header.empty() &&
      std::all_of(c.identity_header.begin(), c.identity_header.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
      });
  if (!token) throw ConfigError("'identity.header' must be a header name like X-User-Id");
  c.webhook_secret = tree.at(pointer("payments.webhook_secret")).get<std::string>();
  c.payment_provider_url = tree.at(pointer("payments.provider_url")).get<std::string>();
  c.payment_provider_timeout =
      std::chrono::milliseconds(integer(tree, "payments.provider_timeout_ms", 100, 600000));
  c.worker_threads = static_cast<int>(integer(tree, "workers.threads", 1, 256));
  c.worker_queue_limit =
      static_cast<std::size_t>(integer(tree, "workers.queue_limit", 1, 10000000));
  c.shutdown_grace = std::chrono::milliseconds(integer(tree, "shutdown.grace_ms", 0, 3600000));
  c.push_timeout = std::chrono::milliseconds(integer(tree, "push.timeout_ms", 10, 600000));
  c.log_level = one_of(tree, "log.level", {"debug", "info", "warn", "error"});
  c.access_log = tree.at(pointer("log.access")).get<bool>();
  c.plugins_dir = tree.at(pointer("plugins.dir")).get<std::string>();
  c.plugins = parse_plugins(tree.at(pointer("plugins.load")));
  c.tree = std::move(tree);
  return c;
}

std::map<std::string, std::string> flashsale_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const auto eq = entry.find('=');
    if (entry.rfind("FLASHSALE_", 0) == 0 && eq != std::string::npos) {
      env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
    }
  }
  return env;
}

}  // namespace flashsale
