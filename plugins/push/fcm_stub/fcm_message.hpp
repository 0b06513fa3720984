// The FCM HTTP v1 wire format: the `messages:send` request body for one device token, and what
// an answer means for that token (see fcm_channel.cpp for the mapping and why).
#pragma once

#include <chrono>
#include <flashsale/http_client.hpp>
#include <flashsale/sdk/push.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace flashsale::plugins::fcm_stub {

/// The body of POST /v1/projects/{id}/messages:send addressed to `token`: notification
/// title/body, string data, Android and APNs options. `ttl_s` bounds how long FCM and APNs
/// keep it for an offline device (APNs' expiry is absolute: the event's commit time + ttl_s).
/// The same notification always gives the same body, so a resend is byte-identical.
nlohmann::json build_message(const sdk::Notification& n, const std::string& token, int ttl_s);

/// What one answer means for its token.
struct SendResult {
  enum class Kind {
    delivered,     ///< FCM accepted the message
    unregistered,  ///< the token is gone for good: forget it
    retry,         ///< transient: send again later
    failed,        ///< permanent for this message and token
  };
  Kind kind = Kind::delivered;
  /// For retry: the delay the server asked for (Retry-After), or 0 when it asked for none.
  std::chrono::milliseconds retry_after{0};
  /// The failure says our credentials or endpoint are wrong, not the token: health turns bad.
  bool config_problem = false;
  /// e.g. `404 NOT_FOUND/UNREGISTERED: Requested entity was not found.`
  std::string detail;
};

/// Reads an answer of the FCM API (status, Retry-After, the google.rpc error body with its
/// FcmError errorCode).
SendResult classify(const http_client::Response& response,
                    std::chrono::system_clock::time_point now);

}  // namespace flashsale::plugins::fcm_stub
