// What a loader checks, in one place for the host and the SDK's test helpers: where the
// descriptor sits in a plugin library, the known kinds, and whether an object implements one.
#pragma once

#include <string_view>

#include "flashsale/sdk/event_source.hpp"
#include "flashsale/sdk/push.hpp"
#include "flashsale/sdk/scheduler.hpp"
#include "flashsale/sdk/storage.hpp"

namespace flashsale::sdk {
inline namespace v1 {

/// The section and the alias FLASHSALE_PLUGIN exports the descriptor under.
inline constexpr const char* kDescriptorSection = "fsplugin";
inline constexpr const char* kDescriptorAlias = "flashsale_plugin";

/// The kinds this SDK knows, for messages.
inline constexpr const char* kKnownKinds = "storage, event_source, scheduler, push";

inline bool is_known_kind(std::string_view kind) {
  return kind == Storage::kKind || kind == EventSource::kKind || kind == Scheduler::kKind ||
         kind == PushChannel::kKind;
}

/// Whether `object` really implements the kind its descriptor claims.
inline bool implements(std::string_view kind, Plugin* object) {
  if (kind == Storage::kKind) return dynamic_cast<Storage*>(object) != nullptr;
  if (kind == EventSource::kKind) return dynamic_cast<EventSource*>(object) != nullptr;
  if (kind == Scheduler::kKind) return dynamic_cast<Scheduler*>(object) != nullptr;
  if (kind == PushChannel::kKind) return dynamic_cast<PushChannel*>(object) != nullptr;
  return false;
}

}  // namespace v1
}  // namespace flashsale::sdk
