// See plugin_host.hpp.
#include "plugin_host.hpp"

#include <algorithm>
#include <boost/dll/library_info.hpp>
#include <boost/dll/runtime_symbol_info.hpp>
#include <cstring>
#include <flashsale/pg/connection.hpp>
#include <flashsale/pg/migrations.hpp>
#include <flashsale/sdk/event_source.hpp>
#include <flashsale/sdk/kinds.hpp>
#include <flashsale/sdk/scheduler.hpp>

#include "event_bus.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "push/notifications.hpp"

namespace flashsale {
namespace fs = std::filesystem;
namespace {

class Context final : public sdk::HostContext {
 public:
  Context(const PluginHost& host, nlohmann::json config, const std::string& node_id,
          const std::string& database_url, std::string name, prometheus::Registry& registry,
          EventBus& events, std::vector<sdk::UserStreamRoute> taken)
      : host_(host),
        config_(std::move(config)),
        node_id_(node_id),
        database_url_(pg::with_parameter(database_url, "application_name",
                                         pg::application_name(node_id, name))),
        name_(std::move(name)),
        registry_(registry),
        events_(events),
        taken_(std::move(taken)) {}
  const std::string& plugin_name() const override { return name_; }
  const nlohmann::json& config() const override { return config_; }
  const std::string& node_id() const override { return node_id_; }
  const std::string& database_url() const override { return database_url_; }
  void log(sdk::LogLevel level, std::string_view message) override {
    log::write(level, name_, message);
  }
  prometheus::Registry& metrics() override { return registry_; }
  sdk::EventSink& event_sink() override { return events_; }
  void subscribe(std::vector<std::string> types,
                 std::shared_ptr<sdk::EventConsumer> consumer) override {
    events_.subscribe(std::move(types), std::move(consumer));
  }
  bool replay_notifications(const std::string& user_id, sdk::EventPosition since,
                            const std::function<void(const sdk::Notification&)>& each) override {
    sdk::EventStream* stream = host_.event_stream();
    if (stream == nullptr) return false;
    return stream->replay(since, [&](const sdk::Event& e) {
      if (e.user_id != user_id) return;
      if (auto n = push::notification_for(e)) each(*n);
    });
  }
  void add_user_stream(sdk::UserStreamRoute route) override {
    if (route.path.size() < 2 || route.path.front() != '/' || !route.check || !route.open) {
      throw std::invalid_argument("add_user_stream: needs a path like /v1/stream, check and open");
    }
    const auto taken = [&](const auto& list) {
      return std::any_of(list.begin(), list.end(),
                         [&](const auto& other) { return other.path == route.path; });
    };
    if (taken(taken_) || taken(routes)) {
      throw std::invalid_argument("add_user_stream: " + route.path + " is already served");
    }
    routes.push_back(std::move(route));
  }

  // Routes this plugin asked for; the host takes them once its factory returned.
  std::vector<sdk::UserStreamRoute> routes;

 private:
  const PluginHost& host_;
  nlohmann::json config_;
  const std::string& node_id_;
  std::string database_url_;
  std::string name_;
  prometheus::Registry& registry_;
  EventBus& events_;
  const std::vector<sdk::UserStreamRoute> taken_;  // other plugins' routes
};

// Only one plugin of these kinds may run: the host needs exactly one authority for each.
bool singular_kind(const std::string& kind) { return kind != sdk::PushChannel::kKind; }

}  // namespace

PluginHost::PluginHost(const Config& config, std::string database_url, Metrics& metrics,
                       EventBus& events)
    : config_(config), database_url_(std::move(database_url)), metrics_(metrics), events_(events) {}

PluginHost::~PluginHost() {
  stop_all();
  for (auto& p : plugins_) p->object.reset();
  // Never unload: objects a plugin handed out (event consumers, exceptions, type info) may
  // outlive this host and point into the library's code. The process exit releases them.
  static auto* const kept = new std::vector<boost::dll::shared_library>();
  for (auto& p : plugins_) kept->push_back(std::move(p->library));
  for (auto& library : refused_libraries_) kept->push_back(std::move(library));
}

fs::path PluginHost::plugins_dir() const {
  if (!config_.plugins_dir.empty()) return config_.plugins_dir;
  return boost::dll::program_location().parent_path().parent_path() / "lib" / "flashsale";
}

LoadedPlugin& PluginHost::load(const PluginEntry& entry) {
  const bool is_path = entry.file.find('/') != std::string::npos || entry.file.ends_with(".so");
  const fs::path path = is_path ? fs::path(entry.file) : plugins_dir() / (entry.file + ".so");
  const std::string where = "plugin " + path.string() + " refused: ";
  auto refuse = [&](const std::string& reason) { return PluginRefused(where + reason); };

  if (auto error = sdk::library_error(path)) throw refuse(*error);

  auto plugin = std::make_unique<LoadedPlugin>();
  plugin->path = fs::canonical(path).string();
  plugin->required = entry.required;
  try {
    plugin->library.load(plugin->path, boost::dll::load_mode::rtld_now);
  } catch (const std::exception& e) {
    throw refuse(std::string("cannot be loaded: ") + e.what());
  }
  try {
    admit(*plugin, refuse);
  } catch (...) {
    // Never unload a library once loaded: its initializers may have left threads or handlers.
    refused_libraries_.push_back(std::move(plugin->library));
    throw;
  }
  metrics_.plugin_loaded(plugin->name, plugin->kind, plugin->version);
  log::info("loaded " + plugin->kind + " plugin '" + plugin->name + "' " + plugin->version +
            " from " + plugin->path);
  plugins_.push_back(std::move(plugin));
  return *plugins_.back();
}

template <typename Refuse>
void PluginHost::admit(LoadedPlugin& p, const Refuse& refuse) {
  const auto& d = p.library.get_alias<const sdk::PluginDescriptor>(sdk::kDescriptorAlias);
  if (auto error = sdk::descriptor_error(d)) throw refuse(*error);
  p.kind = d.kind;
  p.name = d.name;
  p.version = d.version ? d.version : "";
  for (std::string_view rest = d.requirements; !rest.empty();) {
    const auto comma = rest.find(',');
    std::string name(rest.substr(0, comma));
    if (!name.empty()) p.requirements.push_back(std::move(name));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  for (const auto& other : plugins_) {
    if (other->name == p.name) {
      throw refuse("a plugin named '" + p.name + "' is already loaded from " + other->path);
    }
    if (other->kind == p.kind && singular_kind(p.kind)) {
      throw refuse("a " + p.kind + " plugin ('" + other->name +
                   "') is already loaded; only one may run");
    }
  }

  std::vector<sdk::UserStreamRoute> taken;
  for (const auto& other : plugins_) {
    taken.insert(taken.end(), other->user_streams.begin(), other->user_streams.end());
  }
  auto context = std::make_unique<Context>(*this, config_.plugin_config(p.name), config_.node_id,
                                           database_url_, p.name, metrics_.registry(), events_,
                                           std::move(taken));
  auto& routes = context->routes;
  p.context = std::move(context);
  try {
    p.object.reset(d.create(*p.context));
  } catch (const std::exception& e) {
    throw refuse(std::string("factory threw: ") + e.what());
  } catch (...) {
    throw refuse("factory threw a non-standard exception");
  }
  if (!p.object) throw refuse("factory returned no object");
  if (!sdk::implements(p.kind, p.object.get())) {
    p.object.reset();
    throw refuse("its object does not implement the " + p.kind + " interface");
  }
  p.user_streams = std::move(routes);
  routes.clear();
}

void PluginHost::load_all() {
  for (const auto& entry : config_.plugins) {
    try {
      load(entry);
    } catch (const PluginRefused& e) {
      if (entry.required) throw;
      log::warn(std::string(e.what()) + " (optional: continuing without it)");
    }
  }
  check_requirements();
  std::vector<std::string> names;
  for (const auto& p : plugins_) names.push_back(p->name);
  if (const auto unclaimed = config_.unclaimed_plugin_variables(names); !unclaimed.empty()) {
    std::string loaded;
    for (const auto& n : names) loaded += (loaded.empty() ? "" : ", ") + n;
    throw PluginRefused("environment: " + unclaimed.front() +
                        " names no loaded plugin's setting (loaded: " + loaded + ")");
  }
  const bool has_storage = std::any_of(plugins_.begin(), plugins_.end(), [](const auto& p) {
    return p->kind == sdk::Storage::kKind;
  });
  if (!has_storage) {
    throw PluginRefused(
        "no storage plugin loaded: plugins.load must list one (e.g. "
        "flashsale_storage_postgres)");
  }
}

const LoadedPlugin* PluginHost::find(const std::string& name) const {
  for (const auto& p : plugins_) {
    if (p->name == name) return p.get();
  }
  return nullptr;
}

void PluginHost::check_requirements() {
  // Leaving one plugin out may leave another without its requirement: look until nothing moves.
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = plugins_.begin(); it != plugins_.end(); ++it) {
      auto& p = **it;
      const auto missing = std::find_if(p.requirements.begin(), p.requirements.end(),
                                        [this](const auto& name) { return !find(name); });
      if (missing == p.requirements.end()) continue;
      const std::string why = "plugin " + p.path + " refused: it requires plugin '" + *missing +
                              "', which is not loaded";
      if (p.required) throw PluginRefused(why);
      log::warn(why + " (optional: continuing without it)");
      p.object.reset();
      refused_libraries_.push_back(std::move(p.library));  // never unloaded, see load()
      plugins_.erase(it);
      changed = true;
      break;
    }
  }
}

void PluginHost::migrate_all() {
  std::size_t done = 0;
  while (done < plugins_.size()) {
    const std::size_t before = done;
    for (auto& p : plugins_) {
      if (p->migrated || !std::all_of(p->requirements.begin(), p->requirements.end(),
                                      [this](auto& n) { return find(n)->migrated; })) {
        continue;
      }
      try {
        p->object->migrate();
      } catch (const pg::MigrationError& e) {
        throw pg::MigrationError("plugin '" + p->name + "': " + e.what());
      } catch (const std::exception& e) {
        throw std::runtime_error("plugin '" + p->name +
                                 "' could not migrate its schema: " + e.what());
      }
      p->migrated = true;
      ++done;
    }
    if (done == before) throw PluginRefused("the plugins' requirements form a cycle");
  }
}

void PluginHost::start_one(LoadedPlugin& p) {
  if (p.started || !p.start_failure.empty()) return;
  try {
    p.object->start();
  } catch (const std::exception& e) {
    const std::string what = "plugin " + p.path + " failed to start: " + e.what();
    if (p.required) throw PluginRefused(what);
    log::warn(what + " (optional: continuing without it)");
    p.start_failure = std::string("failed to start: ") + e.what();
    try {
      p.object->stop();  // whatever it had set up before it threw
    } catch (const std::exception&) {
    }
    return;
  }
  p.started = true;
  started_.push_back(&p);
}

void PluginHost::start(std::string_view kind) {
  for (auto& p : plugins_) {
    if (p->kind == kind) start_one(*p);
  }
}

void PluginHost::start_all() {
  for (auto& p : plugins_) {
    if (p->kind != sdk::EventSource::kKind) start_one(*p);
  }
  start(sdk::EventSource::kKind);
}

void PluginHost::stop_one(LoadedPlugin& p) {
  started_.erase(std::find(started_.begin(), started_.end(), &p));
  p.started = false;
  try {
    p.object->stop();
  } catch (const std::exception& e) {
    log::error("plugin '" + p.name + "' failed to stop cleanly: " + e.what());
  }
}

void PluginHost::stop(std::string_view kind) {
  for (auto it = started_.rbegin(); it != started_.rend();) {
    LoadedPlugin& p = **it;
    if (p.kind != kind) {
      ++it;
      continue;
    }
    stop_one(p);
    it = started_.rbegin();  // started_ changed: look again from its end
  }
}

void PluginHost::stop_all() {
  while (!started_.empty()) stop_one(*started_.back());
}

template <typename T>
T* PluginHost::first() const {
  for (const auto& p : plugins_) {
    if (auto* s = dynamic_cast<T*>(p->object.get())) return s;
  }
  return nullptr;
}

sdk::Storage& PluginHost::storage() const {
  if (auto* s = first<sdk::Storage>()) return *s;
  throw PluginRefused("no storage plugin loaded");
}

sdk::Scheduler* PluginHost::scheduler() const { return first<sdk::Scheduler>(); }

sdk::EventStream* PluginHost::event_stream() const { return first<sdk::EventStream>(); }

sdk::EventSource* PluginHost::event_source() const { return first<sdk::EventSource>(); }

std::vector<std::pair<std::string, sdk::PushChannel*>> PluginHost::push_channels() const {
  std::vector<std::pair<std::string, sdk::PushChannel*>> channels;
  for (const auto& p : plugins_) {
    auto* c = dynamic_cast<sdk::PushChannel*>(p->object.get());
    if (c && p->start_failure.empty()) channels.emplace_back(p->name, c);
  }
  return channels;
}

std::vector<sdk::UserStreamRoute> PluginHost::user_streams() const {
  std::vector<sdk::UserStreamRoute> routes;
  for (const auto& p : plugins_) {
    if (p->start_failure.empty()) {
      routes.insert(routes.end(), p->user_streams.begin(), p->user_streams.end());
    }
  }
  return routes;
}

std::vector<PluginHealth> PluginHost::health() const {
  std::vector<PluginHealth> report;
  for (const auto& p : plugins_) {
    PluginHealth h{p->name, p->kind, p->version, p->required, false, p->start_failure};
    if (!p->start_failure.empty()) {
      report.push_back(std::move(h));
      continue;
    }
    try {
      const auto health = p->object->health();
      h.ok = health.ok;
      h.detail = health.detail;
    } catch (const std::exception& e) {
      h.detail = std::string("health check threw: ") + e.what();
    }
    report.push_back(std::move(h));
  }
  return report;
}

}  // namespace flashsale
