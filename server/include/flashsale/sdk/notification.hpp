// A user-facing event as the push channels get it (push.hpp), and as a replay gives it back
// (HostContext::replay_notifications).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace flashsale::sdk {
inline namespace v1 {

/// One user-facing event (order.reserved, payment_link.ready, order.confirmed, order.expired,
/// order.cancelled), ready to send to that user's devices or connections.
struct Notification {
  std::string event_id;    ///< Deterministic id of the domain event: the same on a re-delivery,
                           ///< so a channel (or its client) can drop duplicates.
  std::string event_type;  ///< e.g. "order.reserved"
  std::string user_id;     ///< Recipient (the gateway's user id).
  std::string order_id;    ///< Order the event concerns.
  std::string item_id;     ///< Item of that order.
  std::string title;       ///< Short human text, e.g. "You got one!"
  std::string body;        ///< Longer human text.
  std::map<std::string, std::string> data;  ///< Machine-readable fields, all strings.
  std::string event_json;  ///< The SPEC §5 event envelope, serialized (what /v1/stream sends).
  /// The user's registered push tokens (POST /v1/devices); filled only for a channel whose
  /// wants_device_tokens() is true.
  std::vector<std::string> device_tokens;
};

}  // namespace v1
}  // namespace flashsale::sdk
