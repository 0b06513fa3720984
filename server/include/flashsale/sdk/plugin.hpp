// The plugin contract: the descriptor every plugin library exports, the base class of every
// plugin object, and FLASHSALE_PLUGIN, the one macro a plugin writes to export itself.
#pragma once

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>
#include <cstdint>
#include <string>

#include "flashsale/sdk/host_context.hpp"

#define FLASHSALE_SDK_STR_(x) #x
#define FLASHSALE_SDK_STR(x) FLASHSALE_SDK_STR_(x)

namespace flashsale::sdk {
inline namespace v1 {

/// Bumped on every incompatible change to any SDK header. The host refuses a plugin whose
/// descriptor carries another value, before it runs any of the plugin's code.
inline constexpr std::uint32_t kAbiVersion = 2;

/// First field of every descriptor: tells a flashsale plugin from any other exported symbol.
inline constexpr std::uint32_t kDescriptorMagic = 0x464c5350;  // "FLSP"

/// The C++ toolchain facts that must match between host and plugin for std types to be shared.
inline constexpr const char* kBuildId =
    "libstdc++-" FLASHSALE_SDK_STR(_GLIBCXX_RELEASE) "/cxx11abi-" FLASHSALE_SDK_STR(
        _GLIBCXX_USE_CXX11_ABI) "/c++" FLASHSALE_SDK_STR(__cplusplus);

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
  /// Called once, after every configured plugin is constructed and before traffic is accepted.
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
  /// Makes the plugin object. May throw: the host reports the message and refuses the plugin.
  Plugin* (*create)(HostContext& host);
};

}  // namespace v1
}  // namespace flashsale::sdk

/// Exports plugin class TYPE (constructible from HostContext&, deriving from a kind interface)
/// under NAME and VERSION. Write it once, at namespace scope, in one source file of the plugin.
#define FLASHSALE_PLUGIN(TYPE, NAME, VERSION)                                                      \
  namespace flashsale_plugin_export {                                                              \
  ::flashsale::sdk::Plugin* create(::flashsale::sdk::HostContext& host) { return new TYPE(host); } \
  const ::flashsale::sdk::PluginDescriptor descriptor{::flashsale::sdk::kDescriptorMagic,          \
                                                      ::flashsale::sdk::kAbiVersion,               \
                                                      ::flashsale::sdk::kBuildId,                  \
                                                      TYPE::kKind,                                 \
                                                      NAME,                                        \
                                                      VERSION,                                     \
                                                      &create};                                    \
  BOOST_DLL_ALIAS_SECTIONED(descriptor, flashsale_plugin, fsplugin)                                \
  }
