// Kind `storage`: the inventory semaphore and the order lifecycle (SPEC §2, §6).
#pragma once

#include "flashsale/sdk/plugin.hpp"

namespace flashsale::sdk {
inline namespace v1 {

/// The authority over stock and orders. Exactly one storage plugin is loaded, and it is required.
/// Its health() reports whether the database answers.
class BOOST_SYMBOL_VISIBLE Storage : public Plugin {
 public:
  static constexpr const char* kKind = "storage";
};

}  // namespace v1
}  // namespace flashsale::sdk
