// Kind `push`: client notification channels (SPEC §3, §6). Many may be loaded at once. The host
// turns each user-facing domain event into one Notification and hands it to every channel, each
// on its own thread with a time limit, so one slow or hanging channel never holds up another.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "flashsale/sdk/notification.hpp"
#include "flashsale/sdk/plugin.hpp"

namespace flashsale::sdk {
inline namespace v1 {

/// What a channel did with a notification.
struct Delivery {
  enum class Outcome {
    delivered,  ///< Handed over (or nothing to hand over); nothing more to do.
    retry,      ///< Transient failure: the host retries after `retry_after` (a durable job).
    failed,     ///< Permanent failure: the host logs it and drops it.
  };
  Outcome outcome = Outcome::delivered;
  std::chrono::milliseconds retry_after{0};  ///< for retry; 0 lets the host pick a backoff
  std::string detail;                        ///< Human text for logs.
  /// Tokens the provider says no longer exist: the host deletes them from the registry.
  std::vector<std::string> unregistered_tokens;
  /// For retry: the tokens still to send to (empty: all of the notification's).
  std::vector<std::string> retry_tokens;

  /// A permanent failure.
  static Delivery failure(std::string detail) {
    Delivery d;
    d.outcome = Outcome::failed;
    d.detail = std::move(detail);
    return d;
  }
  /// A transient failure: try again after `after` (0: the host's backoff).
  static Delivery later(std::chrono::milliseconds after, std::string detail) {
    Delivery d;
    d.outcome = Outcome::retry;
    d.retry_after = after;
    d.detail = std::move(detail);
    return d;
  }
};

/// A push channel. deliver() runs on the channel's own host thread, one call at a time, and may
/// block up to the channel's own network timeout; the host gives up waiting after `push.timeout_ms`
/// and turns what is left into retry jobs. It must not throw (a throw counts as a permanent
/// failure of that notification).
class BOOST_SYMBOL_VISIBLE PushChannel : public Plugin {
 public:
  static constexpr const char* kKind = "push";
  virtual Delivery deliver(const Notification& notification) = 0;
  /// True if the channel sends to registered device tokens (then the host looks them up).
  [[nodiscard]] virtual bool wants_device_tokens() const { return false; }
};

}  // namespace v1
}  // namespace flashsale::sdk
