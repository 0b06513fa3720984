// Kind `scheduler`: durable delayed jobs (SPEC §5 "queues vs streams", §6).
#pragma once

#include "flashsale/sdk/plugin.hpp"

namespace flashsale::sdk {
inline namespace v1 {

/// Runs commands at or after a time: lease expiry, payment links, push retries.
class BOOST_SYMBOL_VISIBLE Scheduler : public Plugin {
 public:
  static constexpr const char* kKind = "scheduler";
};

}  // namespace v1
}  // namespace flashsale::sdk
