// Kind `push`: client notification channels (SPEC §3, §6). Many may be loaded at once.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "flashsale/sdk/plugin.hpp"

namespace flashsale::sdk {
inline namespace v1 {

/// One user-facing event, ready to send to that user's devices or connections.
struct Notification {
  std::string event_id;    ///< Deterministic id of the domain event; deliver at most once per id.
  std::string event_type;  ///< e.g. "order.reserved"
  std::string user_id;     ///< Recipient (the gateway's user id).
  std::string order_id;    ///< Order the event concerns.
  std::string title;       ///< Short human text, e.g. "You got it!"
  std::string body;        ///< Longer human text.
  std::map<std::string, std::string> data;  ///< Machine-readable fields, all strings.
};

/// What a channel did with a notification.
struct Delivery {
  enum class Outcome {
    delivered,  ///< Handed over; nothing more to do.
    retry,      ///< Transient failure: the host retries after `retry_after`.
    failed,     ///< Permanent failure: the host logs it and drops it.
  };
  Outcome outcome = Outcome::delivered;
  std::chrono::milliseconds retry_after{0};
  std::string detail;  ///< Human text for logs and metrics.
};

/// A push channel. deliver() is called from a host worker thread and may block up to the
/// channel's own timeout; it must not throw (a throw counts as a permanent failure).
class BOOST_SYMBOL_VISIBLE PushChannel : public Plugin {
 public:
  static constexpr const char* kKind = "push";
  virtual Delivery deliver(const Notification& notification) = 0;
};

}  // namespace v1
}  // namespace flashsale::sdk
