// What a user is told about their order: the user-facing domain events (SPEC §5) as push
// notifications, with human text and string data (SPEC §3, §6).
#pragma once

#include <flashsale/sdk/events.hpp>
#include <flashsale/sdk/push.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace flashsale::push {

/// The event types that become notifications: order.reserved (incl. promoted),
/// payment_link.ready, order.confirmed, order.expired, order.cancelled.
const std::vector<std::string>& notified_event_types();

/// The notification for `event`; nullopt for other types or an event without a user.
std::optional<sdk::Notification> notification_for(const sdk::Event& event);

/// A notification as a retry job carries it, and back (throws nlohmann::json::exception).
nlohmann::json to_json(const sdk::Notification& n);
sdk::Notification notification_from_json(const nlohmann::json& j);

}  // namespace flashsale::push
