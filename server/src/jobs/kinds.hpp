// The kinds of the durable jobs the host plans and handles (docs/operations.md, "Jobs"): one
// list for the planner, the handlers, the payment webhook and push routing.
#pragma once

namespace flashsale::jobs::kind {

/// Sweeps an item: every lease lapsed in one 100 ms bucket comes back in one transaction.
inline constexpr const char* kExpireLeases = "expire_leases";
/// Asks the payment provider for a reserved order's checkout link and stores it.
inline constexpr const char* kMakePaymentLink = "make_payment_link";
/// Gives back the money of a payment that came too late.
inline constexpr const char* kRefund = "refund";
/// Ends an item's waiting line at its closing time.
inline constexpr const char* kCloseSale = "close_sale";
/// Hands a notification to a push channel again.
inline constexpr const char* kPush = "push";

}  // namespace flashsale::jobs::kind
