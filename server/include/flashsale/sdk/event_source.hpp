// Kind `event_source`: turns committed database changes into domain events (SPEC §5, §6).
#pragma once

#include "flashsale/sdk/plugin.hpp"

namespace flashsale::sdk {
inline namespace v1 {

/// Reads the write-ahead log and delivers domain events to the host's event bus.
class BOOST_SYMBOL_VISIBLE EventSource : public Plugin {
 public:
  static constexpr const char* kKind = "event_source";
};

}  // namespace v1
}  // namespace flashsale::sdk
