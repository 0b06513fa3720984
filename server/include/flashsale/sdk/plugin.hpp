// The plugin contract: the descriptor every plugin library exports, the base class of every
// plugin object, and FLASHSALE_PLUGIN, the one macro a plugin writes to export itself.
#pragma once

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>
#include <boost/version.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "flashsale/sdk/host_context.hpp"

#define FLASHSALE_SDK_STR_(x) #x
#define FLASHSALE_SDK_STR(x) FLASHSALE_SDK_STR_(x)

namespace flashsale::sdk {
inline namespace v1 {

#if !defined(FLASHSALE_SDK_VERSION) || !defined(FLASHSALE_SDK_PROMETHEUS_VERSION)
#error "build plugins against the flashsale::sdk CMake target (it defines the versions below)"
#endif

/// Bumped on every incompatible change to any SDK header. The host refuses a plugin whose
/// descriptor carries another value, before it runs any of the plugin's code.
inline constexpr std::uint32_t kAbiVersion = 6;

/// First field of every descriptor: tells a flashsale plugin from any other exported symbol.
inline constexpr std::uint32_t kDescriptorMagic = 0x464c5350;  // "FLSP"

/// What must match between host and plugin for the types crossing the boundary to be shared:
/// the C++ toolchain, and the versions of the libraries whose types the SDK hands over (Boost,
/// nlohmann_json, prometheus-cpp) and of the SDK itself.
// clang-format off
#define FLASHSALE_SDK_JSON_VERSION                                              \
  FLASHSALE_SDK_STR(NLOHMANN_JSON_VERSION_MAJOR) "."                            \
  FLASHSALE_SDK_STR(NLOHMANN_JSON_VERSION_MINOR) "."                            \
  FLASHSALE_SDK_STR(NLOHMANN_JSON_VERSION_PATCH)
inline constexpr const char* kBuildId =
    "libstdc++-" FLASHSALE_SDK_STR(_GLIBCXX_RELEASE)
    "/cxx11abi-" FLASHSALE_SDK_STR(_GLIBCXX_USE_CXX11_ABI)
    "/c++" FLASHSALE_SDK_STR(__cplusplus)
    "/boost-" BOOST_LIB_VERSION
    "/nlohmann_json-" FLASHSALE_SDK_JSON_VERSION
    "/prometheus-cpp-" FLASHSALE_SDK_PROMETHEUS_VERSION
    "/flashsale-" FLASHSALE_SDK_VERSION;
// clang-format on

/// A plugin's own view of its health; /readyz fails while a required plugin is not ok.
struct Health {
  bool ok = true;
  std::string detail;  ///< Human text, shown in /readyz and /admin/plugins.
};

/// Base of every plugin object. The kind interfaces (Storage, EventSource, Scheduler,
/// PushChannel) derive from it; a plugin class derives from exactly one of them.
class BOOST_SYMBOL_VISIBLE Plugin {
 public:
  virtual ~Plugin() = default;
  /// Brings the plugin's own database schema up to date (its migrations/<kind>_<name>/ files,
  /// compiled in; see flashsale/pg/migrations.hpp). Called once, after every configured plugin
  /// is constructed and before any start(), after the migrate() of the plugins it requires;
  /// `flashsale migrate` calls only this. A plugin with no tables keeps the default.
  virtual void migrate() {}
  /// Called once, after every configured plugin is constructed and migrated, before traffic is
  /// accepted.
  virtual void start() {}
  /// Called once at shutdown, in reverse start order. Must return within a few seconds.
  virtual void stop() {}
  /// Called from a worker thread (never a network thread); may block briefly.
  virtual Health health() { return {}; }
};

/// Exported by each plugin library under the alias `flashsale_plugin` in section `fsplugin`.
/// The first two fields keep their place in every ABI version so any host can read them.
struct PluginDescriptor {
  std::uint32_t magic;        ///< kDescriptorMagic
  std::uint32_t abi_version;  ///< kAbiVersion the plugin was built with
  const char* build_id;       ///< kBuildId the plugin was built with
  const char* kind;           ///< "storage", "event_source", "scheduler" or "push"
  const char* name;     ///< short unique name, e.g. "postgres"; selects `plugin.<name>` config
  const char* version;  ///< the plugin's own version, e.g. "1.0.0"
  /// Names of the plugins this one needs loaded too, comma-separated ("" for none): e.g. pg_wal
  /// decodes the tables of storage plugin "postgres". The host refuses a plugin whose
  /// requirement is missing, and migrates requirements first.
  const char* requirements;
  /// Makes the plugin object. May throw: the host reports the message and refuses the plugin.
  Plugin* (*create)(HostContext& host);
};

}  // namespace v1
}  // namespace flashsale::sdk

/// Exports plugin class TYPE (constructible from HostContext&, deriving from a kind interface)
/// under NAME and VERSION; an optional fourth argument names the plugins it requires
/// ("postgres"). Write it once, at namespace scope, in one source file of the plugin.
#define FLASHSALE_PLUGIN(TYPE, NAME, VERSION, ...)                                                 \
  namespace flashsale_plugin_export {                                                              \
  ::flashsale::sdk::Plugin* create(::flashsale::sdk::HostContext& host) { return new TYPE(host); } \
  const ::flashsale::sdk::PluginDescriptor descriptor{::flashsale::sdk::kDescriptorMagic,          \
                                                      ::flashsale::sdk::kAbiVersion,               \
                                                      ::flashsale::sdk::kBuildId,                  \
                                                      TYPE::kKind,                                 \
                                                      NAME,                                        \
                                                      VERSION,                                     \
                                                      "" __VA_ARGS__,                              \
                                                      &create};                                    \
  BOOST_DLL_ALIAS_SECTIONED(descriptor, flashsale_plugin, fsplugin)                                \
  }
