// push/fcm_stub: sends each notification to the user's registered devices through the Firebase
// Cloud Messaging HTTP v1 API, one POST {endpoint}/v1/projects/{project_id}/messages:send per
// device token, at a configurable URL (a fake FCM in tests and demos). It builds real FCM
// messages but has no OAuth flow: `access_token`, if set, is sent as a fixed Bearer token.
//
// What an answer means for its token (FCM v1 semantics, fcm_message.cpp):
//   2xx                                      sent
//   errorCode UNREGISTERED, or a 404 carrying a Google API error body
//                                            unregistered: the host forgets the token
//   404 without such a body                  failed, health not ok (a wrong endpoint; forgetting
//                                            tokens on it would wipe the registry)
//   429, 5xx, network error, timeout         retry after the Retry-After header's delay (429
//                                            without one: 60 s, FCM's minimum; otherwise 0, the
//                                            host's backoff)
//   401, 403                                 failed, health not ok until a later send succeeds
//   400 INVALID_ARGUMENT and other 4xx       failed
// The first transient failure ends the round: that token and the ones after it, not tried now,
// are left for the retry, since FCM is overloaded or unreachable (and each further try could
// cost a whole timeout_ms).
//
// The Delivery, over all tokens:
//   - some token to retry   -> retry; retry_tokens = those tokens, retry_after = the longest
//                              delay asked (tokens that failed for good are not retried);
//   - else some token sent  -> delivered (a permanent failure on another device of the same user
//                              is in the detail: the user got the notification);
//   - else some failure     -> failed;
//   - else                  -> delivered (no tokens, or every token unregistered: nothing to do).
// unregistered_tokens is filled whatever the outcome. deliver() never throws.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>
#include <flashsale/http_client.hpp>
#include <flashsale/sdk/push.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fcm_message.hpp"
#include "settings.hpp"

namespace flashsale::plugins::fcm_stub {

namespace {

// Tokens identify a device; logs get a recognisable prefix, not the whole token.
std::string short_token(const std::string& token) {
  return token.size() <= 8 ? token : token.substr(0, 8) + "...";
}

}  // namespace

class FcmChannel final : public sdk::PushChannel {
 public:
  explicit FcmChannel(sdk::HostContext& host)
      : host_(host),
        settings_(parse_settings(host)),
        client_(settings_.endpoint),
        path_("/v1/projects/" + settings_.project_id + "/messages:send"),
        requests_(prometheus::BuildCounter()
                      .Name("flashsale_fcm_requests_total")
                      .Help("Sends to the FCM API by answer: the HTTP status, network_error or "
                            "timeout")
                      .Register(host.metrics())) {
    if (!settings_.access_token.empty()) {
      headers_.emplace_back("Authorization", "Bearer " + settings_.access_token);
    }
  }

  [[nodiscard]] bool wants_device_tokens() const override { return true; }

  sdk::Health health() override {
    std::lock_guard lock(mutex_);
    if (problem_) return {false, *problem_};
    return {true, "sending to " + client_.url() + " (project " + settings_.project_id + ")"};
  }

  sdk::Delivery deliver(const sdk::Notification& n) override {
    try {
      return send_all(n);
    } catch (const std::exception& e) {
      return sdk::Delivery::failure(std::string("fcm_stub: unexpected error: ") + e.what());
    } catch (...) {
      return sdk::Delivery::failure("fcm_stub: unexpected error");
    }
  }

 private:
  using Kind = SendResult::Kind;

  sdk::Delivery send_all(const sdk::Notification& n) {
    sdk::Delivery out;
    int sent = 0;
    std::vector<std::string> failures;
    std::string retry_reason;
    for (std::size_t i = 0; i < n.device_tokens.size(); ++i) {
      const auto& token = n.device_tokens[i];
      const SendResult result = send_one(n, token);
      switch (result.kind) {
        case Kind::delivered:
          ++sent;
          break;
        case Kind::unregistered:
          out.unregistered_tokens.push_back(token);
          break;
        case Kind::failed:
          failures.push_back(short_token(token) + ": " + result.detail);
          break;
        case Kind::retry:
          out.retry_tokens.assign(n.device_tokens.begin() + static_cast<std::ptrdiff_t>(i),
                                  n.device_tokens.end());
          out.retry_after = std::max(out.retry_after, result.retry_after);
          retry_reason = short_token(token) + ": " + result.detail;
          break;
      }
      if (!out.retry_tokens.empty()) break;
    }

    std::string detail = "fcm: " + std::to_string(sent) + " of " +
                         std::to_string(n.device_tokens.size()) + " device(s) sent";
    if (!out.unregistered_tokens.empty()) {
      detail += ", " + std::to_string(out.unregistered_tokens.size()) + " unregistered";
    }
    if (!failures.empty()) {
      detail += ", " + std::to_string(failures.size()) + " failed (";
      for (std::size_t i = 0; i < failures.size(); ++i) detail += (i ? "; " : "") + failures[i];
      detail += ")";
    }
    if (!out.retry_tokens.empty()) {
      detail += ", " + std::to_string(out.retry_tokens.size()) + " to retry (" + retry_reason + ")";
      out.outcome = sdk::Delivery::Outcome::retry;
    } else if (sent == 0 && !failures.empty()) {
      out.outcome = sdk::Delivery::Outcome::failed;
    } else {
      out.outcome = sdk::Delivery::Outcome::delivered;
    }
    out.detail = std::move(detail);
    return out;
  }

  SendResult send_one(const sdk::Notification& n, const std::string& token) {
    // Invalid UTF-8 in event text becomes U+FFFD rather than an exception.
    const std::string body = build_message(n, token, settings_.ttl_s)
                                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    SendResult result;
    try {
      const auto response =
          client_.post(path_, body, headers_, std::chrono::milliseconds(settings_.timeout_ms));
      requests_.Add({{"status", std::to_string(response.status)}}).Increment();
      result = classify(response, std::chrono::system_clock::now());
    } catch (const http_client::NetworkError& e) {
      requests_.Add({{"status", e.timed_out() ? "timeout" : "network_error"}}).Increment();
      result.kind = Kind::retry;
      result.detail = e.what();
    }
    note_health(result);
    return result;
  }

  // A credentials or endpoint problem fails health until a send gets through again.
  void note_health(const SendResult& result) {
    std::lock_guard lock(mutex_);
    if (result.config_problem) {
      if (!problem_) {
        host_.log(sdk::LogLevel::warn, "FCM refuses the requests: " + result.detail +
                                           "; health fails until a send succeeds");
      }
      problem_ = "FCM refuses the requests: " + result.detail;
    } else if (problem_ && (result.kind == Kind::delivered || result.kind == Kind::unregistered)) {
      problem_.reset();
      host_.log(sdk::LogLevel::info, "FCM accepts the requests again");
    }
  }

  sdk::HostContext& host_;
  const Settings settings_;
  const http_client::Client client_;
  const std::string path_;
  http_client::Headers headers_;
  prometheus::Family<prometheus::Counter>& requests_;
  std::mutex mutex_;
  std::optional<std::string> problem_;  // why health is not ok
};

}  // namespace flashsale::plugins::fcm_stub

FLASHSALE_PLUGIN(flashsale::plugins::fcm_stub::FcmChannel, "fcm_stub", "1.0.0")
