// The names of the domain events (SPEC §5), in one place for the event source that makes them,
// the host's consumers and the dashboard. Depends on nothing, so any program may include it.
#pragma once

#include <array>
#include <string_view>

namespace flashsale::sdk {
inline namespace v1 {
namespace event_type {

inline constexpr std::string_view kOrderWaiting = "order.waiting";  ///< joined the line
/// Got a unit; data.promoted is true when it came from the line.
inline constexpr std::string_view kOrderReserved = "order.reserved";
inline constexpr std::string_view kOrderConfirmed = "order.confirmed";  ///< paid in time
inline constexpr std::string_view kOrderCancelled = "order.cancelled";  ///< by its user
/// The payment window ran out, an operator ended the lease, or the sale closed on the line.
inline constexpr std::string_view kOrderExpired = "order.expired";
inline constexpr std::string_view kPaymentLinkReady = "payment_link.ready";
/// Stock, the line's length, the pause or the closing time of an item changed.
inline constexpr std::string_view kInventoryChanged = "inventory.changed";
inline constexpr std::string_view kItemCreated = "item.created";

/// Every type, in the order above.
inline constexpr std::array<std::string_view, 8> kAll = {
    kOrderWaiting, kOrderReserved,    kOrderConfirmed,   kOrderCancelled,
    kOrderExpired, kPaymentLinkReady, kInventoryChanged, kItemCreated};

}  // namespace event_type
}  // namespace v1
}  // namespace flashsale::sdk
