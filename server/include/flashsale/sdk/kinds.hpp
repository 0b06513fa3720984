// What a loader checks, in one place for the host and the SDK's test helpers: where the
// descriptor sits in a plugin library, the known kinds, and whether an object implements one.
#pragma once

#include <boost/dll/library_info.hpp>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "flashsale/sdk/event_source.hpp"
#include "flashsale/sdk/event_stream.hpp"
#include "flashsale/sdk/push.hpp"
#include "flashsale/sdk/scheduler.hpp"
#include "flashsale/sdk/storage.hpp"

namespace flashsale::sdk {
inline namespace v1 {

/// The section and the alias FLASHSALE_PLUGIN exports the descriptor under.
inline constexpr const char* kDescriptorSection = "fsplugin";
inline constexpr const char* kDescriptorAlias = "flashsale_plugin";

/// The kinds this SDK knows, for messages.
inline constexpr const char* kKnownKinds = "storage, event_source, scheduler, push, event_stream";

inline bool is_known_kind(std::string_view kind) {
  return kind == Storage::kKind || kind == EventSource::kKind || kind == Scheduler::kKind ||
         kind == PushChannel::kKind || kind == EventStream::kKind;
}

/// Whether `object` really implements the kind its descriptor claims.
inline bool implements(std::string_view kind, Plugin* object) {
  if (kind == Storage::kKind) return dynamic_cast<Storage*>(object) != nullptr;
  if (kind == EventSource::kKind) return dynamic_cast<EventSource*>(object) != nullptr;
  if (kind == Scheduler::kKind) return dynamic_cast<Scheduler*>(object) != nullptr;
  if (kind == PushChannel::kKind) return dynamic_cast<PushChannel*>(object) != nullptr;
  if (kind == EventStream::kKind) return dynamic_cast<EventStream*>(object) != nullptr;
  return false;
}

/// Why the library at `path` is no flashsale plugin, found without loading it (its static
/// initializers run at dlopen): it must export the descriptor alias in the descriptor section.
/// nullopt when it does. Worded to follow "plugin <path> refused: ".
inline std::optional<std::string> library_error(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return "file not found";
  try {
    boost::dll::library_info info(path, true);
    for (const auto& section : info.sections()) {
      if (section != kDescriptorSection) continue;
      for (const auto& symbol : info.symbols(kDescriptorSection)) {
        if (symbol == kDescriptorAlias) return std::nullopt;
      }
    }
  } catch (const std::exception& e) {
    return std::string("not a flashsale plugin (not a shared library: ") + e.what() + ")";
  }
  return "not a flashsale plugin (it exports no flashsale_plugin descriptor)";
}

/// Why a loader must not call this descriptor's factory, checked before any of the plugin's
/// code runs: its magic, its ABI version and build id (exactly this SDK's), a known kind, a name
/// and a factory. nullopt when it may. Worded to follow "plugin <path> refused: ".
inline std::optional<std::string> descriptor_error(const PluginDescriptor& d) {
  if (d.magic != kDescriptorMagic) return "not a flashsale plugin (bad descriptor)";
  if (d.abi_version != kAbiVersion) {
    return "ABI mismatch: built for SDK ABI " + std::to_string(d.abi_version) +
           ", this host speaks ABI " + std::to_string(kAbiVersion) +
           " (rebuild the plugin against this SDK)";
  }
  if (d.build_id == nullptr || std::strcmp(d.build_id, kBuildId) != 0) {
    return std::string("built with another C++ toolchain (plugin ") +
           (d.build_id ? d.build_id : "?") + ", host " + kBuildId + ")";
  }
  const std::string kind = d.kind ? d.kind : "";
  if (!is_known_kind(kind)) return "unknown kind '" + kind + "' (known: " + kKnownKinds + ")";
  if (d.name == nullptr || *d.name == '\0' || d.create == nullptr || d.requirements == nullptr) {
    return "descriptor has no name or factory";
  }
  return std::nullopt;
}

}  // namespace v1
}  // namespace flashsale::sdk
