// See notifications.hpp.
#include "push/notifications.hpp"

#include <flashsale/sdk/event_types.hpp>

namespace flashsale::push {
namespace {

namespace event_type = sdk::event_type;

// Event data as FCM-style string data: nested objects flattened with '_' ("reservation_id").
void flatten(const nlohmann::json& value, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  if (value.is_object()) {
    for (const auto& [key, inner] : value.items()) {
      flatten(inner, prefix.empty() ? key : prefix + "_" + key, out);
    }
  } else if (value.is_string()) {
    out[prefix] = value.get<std::string>();
  } else if (!value.is_null()) {
    out[prefix] = value.dump();
  }
}

}  // namespace

const std::vector<std::string>& notified_event_types() {
  static const std::vector<std::string> types = {
      std::string(event_type::kOrderReserved), std::string(event_type::kPaymentLinkReady),
      std::string(event_type::kOrderConfirmed), std::string(event_type::kOrderExpired),
      std::string(event_type::kOrderCancelled)};
  return types;
}

std::optional<sdk::Notification> notification_for(const sdk::Event& event) {
  if (event.user_id.empty() || event.order_id.empty()) return std::nullopt;
  sdk::Notification n;
  // Data comes from the event source; anything malformed reads as absent, never throws.
  const nlohmann::json data = event.data.is_object() ? event.data : nlohmann::json::object();
  const auto text = [&](const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string item = event.item_id;
  if (event.type == event_type::kOrderReserved) {
    const bool promoted = data.contains("promoted") && data["promoted"] == true;
    const auto reservation = data.find("reservation");
    const std::string until = reservation != data.end() && reservation->is_object()
                                  ? text(*reservation, "expires_at")
                                  : std::string();
    n.title = promoted ? "You're in: a unit came back for you" : "Reserved: one is yours";
    n.body = "Your " + item + " is held for you" + (until.empty() ? "" : " until " + until) +
             ". Pay before then to keep it.";
  } else if (event.type == event_type::kPaymentLinkReady) {
    n.title = "Complete your purchase";
    n.body = "Your payment link for " + item + " is ready: " + text(data, "payment_link") + ".";
  } else if (event.type == event_type::kOrderConfirmed) {
    n.title = "Order confirmed";
    n.body = "Payment received: the " + item + " is yours.";
  } else if (event.type == event_type::kOrderExpired) {
    const bool closed = text(data, "reason") == "sale_closed";
    n.title = closed ? "The sale has ended" : "Your reservation expired";
    n.body = closed ? "The sale of " + item + " closed before a unit reached you."
                    : "The payment window for your " + item + " ended; the unit went back.";
  } else if (event.type == event_type::kOrderCancelled) {
    n.title = "Order cancelled";
    n.body = "Your order for " + item + " is cancelled.";
  } else {
    return std::nullopt;
  }
  n.event_id = event.event_id;
  n.event_type = event.type;
  n.user_id = event.user_id;
  n.order_id = event.order_id;
  n.item_id = event.item_id;
  flatten(data, "", n.data);
  n.event_json = event.to_json().dump();
  return n;
}

nlohmann::json to_json(const sdk::Notification& n) {
  return {{"event_id", n.event_id},
          {"event_type", n.event_type},
          {"user_id", n.user_id},
          {"order_id", n.order_id},
          {"item_id", n.item_id},
          {"title", n.title},
          {"body", n.body},
          {"data", n.data},
          {"event_json", n.event_json},
          {"device_tokens", n.device_tokens}};
}

sdk::Notification notification_from_json(const nlohmann::json& j) {
  sdk::Notification n;
  j.at("event_id").get_to(n.event_id);
  j.at("event_type").get_to(n.event_type);
  j.at("user_id").get_to(n.user_id);
  j.at("order_id").get_to(n.order_id);
  j.at("item_id").get_to(n.item_id);
  j.at("title").get_to(n.title);
  j.at("body").get_to(n.body);
  j.at("data").get_to(n.data);
  j.at("event_json").get_to(n.event_json);
  j.at("device_tokens").get_to(n.device_tokens);
  return n;
}

}  // namespace flashsale::push
