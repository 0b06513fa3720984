// See fcm_message.hpp.
#include "fcm_message.hpp"

#include <algorithm>
#include <ctime>
#include <iomanip>
#include <locale>
#include <optional>
#include <regex>
#include <sstream>

namespace flashsale::plugins::fcm_stub {

namespace {

// Data keys FCM keeps for itself and answers 400 INVALID_ARGUMENT for ("from", anything
// prefixed "google" or "gcm", "message_type"): dropped, so one odd event field cannot make
// every message fail.
bool reserved_data_key(const std::string& key) {
  return key.empty() || key == "from" || key == "message_type" || key.starts_with("google") ||
         key.starts_with("gcm");
}

// The most APNs takes in apns-collapse-id.
constexpr std::size_t kMaxCollapseIdBytes = 64;

// QUOTA_EXCEEDED without Retry-After: FCM asks for a first delay of at least a minute.
constexpr std::chrono::seconds kQuotaBackoff{60};

std::string one_line(std::string text, std::size_t limit = 200) {
  if (text.size() > limit) text = text.substr(0, limit) + "...";
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return text;
}

std::string string_field(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The UNIX time of the event envelope's `committed_at` (RFC 3339), if it has a readable one.
std::optional<long long> committed_at(const std::string& event_json) {
  const auto event = nlohmann::json::parse(event_json, nullptr, false);
  if (!event.is_object()) return std::nullopt;
  const std::string text = string_field(event, "committed_at");
  std::tm tm{};
  std::istringstream in(text);
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return std::nullopt;
  std::string zone;
  std::getline(in, zone);
  if (!zone.empty() && zone.front() == '.') {  // fractional seconds
    const auto end = zone.find_first_not_of("0123456789", 1);
    zone = end == std::string::npos ? "" : zone.substr(end);
  }
  long long offset = 0;
  static const std::regex numeric(R"([+-]([01][0-9]|2[0-3]):([0-5][0-9]))");
  std::smatch m;
  if (zone == "Z" || zone == "z") {
    offset = 0;
  } else if (std::regex_match(zone, m, numeric)) {
    offset = (std::stoll(m[1]) * 60 + std::stoll(m[2])) * 60 * (zone.front() == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  return static_cast<long long>(timegm(&tm)) - offset;
}

}  // namespace

nlohmann::json build_message(const sdk::Notification& n, const std::string& token, int ttl_s) {
  nlohmann::json data = nlohmann::json::object();
  for (const auto& [key, value] : n.data) {
    if (!reserved_data_key(key)) data[key] = value;
  }
  // The envelope's own fields win over event data of the same name.
  data["event_id"] = n.event_id;
  data["type"] = n.event_type;
  data["order_id"] = n.order_id;
  data["item_id"] = n.item_id;

  nlohmann::json android = {{"priority", "high"}, {"ttl", std::to_string(ttl_s) + "s"}};
  // Later events of one order replace earlier ones still waiting for an offline device: the
  // user needs the order's latest state, not its history.
  if (!n.order_id.empty()) android["collapse_key"] = n.order_id;

  nlohmann::json apns_headers = {{"apns-priority", "10"}};
  // apns-expiration is absolute (UNIX seconds), counted from the event rather than the send so
  // that a resend is the same message; 0 means "now or never", like an Android ttl of "0s".
  // Without a readable commit time APNs keeps its default.
  if (ttl_s == 0) {
    apns_headers["apns-expiration"] = "0";
  } else if (const auto committed = committed_at(n.event_json)) {
    apns_headers["apns-expiration"] = std::to_string(*committed + ttl_s);
  }
  if (!n.order_id.empty() && n.order_id.size() <= kMaxCollapseIdBytes) {
    apns_headers["apns-collapse-id"] = n.order_id;
  }

  return {
      {"message",
       {{"token", token},
        {"notification", {{"title", n.title}, {"body", n.body}}},
        {"data", std::move(data)},
        {"android", std::move(android)},
        {"apns",
         {{"headers", std::move(apns_headers)}, {"payload", {{"aps", {{"sound", "default"}}}}}}}}}};
}

SendResult classify(const http_client::Response& response,
                    std::chrono::system_clock::time_point now) {
  using Kind = SendResult::Kind;
  SendResult out;
  const int status = response.status;
  if (status >= 200 && status < 300) {
    out.detail = std::to_string(status);
    return out;
  }

  // A Google API error: {"error":{"code","message","status","details":[{"@type":
  // "type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}.
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  const bool google_error = body.is_object() && body.contains("error") && body["error"].is_object();
  std::string error_status;
  std::string error_code;
  std::string message = one_line(response.body);
  if (google_error) {
    const auto& error = body["error"];
    error_status = string_field(error, "status");
    message = one_line(string_field(error, "message"));
    if (const auto details = error.find("details"); details != error.end() && details->is_array()) {
      for (const auto& detail : *details) {
        if (!detail.is_object()) continue;
        const auto code = string_field(detail, "errorCode");
        if (code.empty()) continue;
        // The FcmError detail is the authority; another detail's code only fills a gap.
        if (string_field(detail, "@type").ends_with("google.firebase.fcm.v1.FcmError") ||
            error_code.empty()) {
          error_code = code;
        }
      }
    }
  }
  out.detail = std::to_string(status);
  if (!error_status.empty()) out.detail += " " + error_status;
  if (!error_code.empty() && error_code != error_status) {
    out.detail += (error_status.empty() ? " " : "/") + error_code;
  }
  if (!message.empty()) out.detail += ": " + message;

  if (error_code == "UNREGISTERED" || (status == 404 && google_error && error_code.empty())) {
    out.kind = Kind::unregistered;
  } else if (status == 404) {
    // Not FCM's "token not found" (that comes with a Google error body): most likely a wrong
    // endpoint. Forgetting the user's tokens on it would wipe the registry, so it only fails.
    out.kind = Kind::failed;
    out.config_problem = true;
    out.detail += " (not an FCM answer: is plugin.fcm_stub.endpoint the FCM API?)";
  } else if (status == 429 || status >= 500) {
    out.kind = Kind::retry;
    if (const auto asked = http_client::parse_retry_after(response.header("retry-after"), now)) {
      out.retry_after = *asked;
    } else if (status == 429) {
      out.retry_after = kQuotaBackoff;
    }
  } else if (status == 401 || status == 403) {
    // UNAUTHENTICATED, PERMISSION_DENIED, THIRD_PARTY_AUTH_ERROR, SENDER_ID_MISMATCH: the
    // credentials or the project are wrong, and every other token will fail the same way.
    out.kind = Kind::failed;
    out.config_problem = true;
  } else {
    out.kind = Kind::failed;  // 400 INVALID_ARGUMENT and the rest: sending again cannot help
  }
  return out;
}

}  // namespace flashsale::plugins::fcm_stub
