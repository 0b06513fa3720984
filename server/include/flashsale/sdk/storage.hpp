// Kind `storage`: the inventory semaphore and the order lifecycle (SPEC §2, §6).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flashsale/sdk/plugin.hpp"

namespace flashsale::sdk {
inline namespace v1 {

/// Why a storage operation did not do what was asked. Each has a SPEC §3 code (code()) and one
/// HTTP status, given by the host in one exhaustive mapping (server/src/api/storage_response.cpp).
enum class StorageError {
  none,                  ///< success
  bad_request,           ///< the input breaks a rule only the database checks (400)
  not_found,             ///< no such item or order, or not the caller's (404)
  already_exists,        ///< an item with this id exists (409)
  sold_out,              ///< no unit free and the waiting line is full (409)
  sale_not_open,         ///< before opens_at (409)
  sale_closed,           ///< after closes_at (409)
  sale_paused,           ///< paused by an operator (409)
  limit_exceeded,        ///< the user holds per_user_limit open orders of the item (409)
  invalid_transition,    ///< the order is no longer in a state the action applies to (409)
  idempotency_mismatch,  ///< the key was used by this user for another item (422)
  duplicate,             ///< a payment event seen before: its first result, no second effect
  overloaded,            ///< too much queued work (503)
  unavailable,           ///< the database cannot be reached (503)
  internal,              ///< a defect: the database answered something unknown (500)
};

/// The SPEC §3 code of `error` ("sold_out"); empty for none.
constexpr std::string_view code(StorageError error) {
  switch (error) {
    case StorageError::none:
      return "";
    case StorageError::bad_request:
      return "bad_request";
    case StorageError::not_found:
      return "not_found";
    case StorageError::already_exists:
      return "already_exists";
    case StorageError::sold_out:
      return "sold_out";
    case StorageError::sale_not_open:
      return "sale_not_open";
    case StorageError::sale_closed:
      return "sale_closed";
    case StorageError::sale_paused:
      return "sale_paused";
    case StorageError::limit_exceeded:
      return "limit_exceeded";
    case StorageError::invalid_transition:
      return "invalid_transition";
    case StorageError::idempotency_mismatch:
      return "idempotency_mismatch";
    case StorageError::duplicate:
      return "duplicate";
    case StorageError::overloaded:
      return "overloaded";
    case StorageError::unavailable:
      return "unavailable";
    case StorageError::internal:
      return "internal";
  }
  return "internal";
}

/// The error whose code() is `text` ("" is none); nullopt for a text no error has.
constexpr std::optional<StorageError> storage_error(std::string_view text) {
  for (int e = static_cast<int>(StorageError::none); e <= static_cast<int>(StorageError::internal);
       ++e) {
    if (code(static_cast<StorageError>(e)) == text) return static_cast<StorageError>(e);
  }
  return std::nullopt;
}

/// What a storage operation did.
struct StorageResult {
  StorageError error = StorageError::none;
  std::string message;  ///< Human text for an error.
  /// JSON text: the resource on success; for some errors the resource as it now is
  /// (e.g. the order that could not be cancelled).
  std::string body;
  [[nodiscard]] bool ok() const { return error == StorageError::none; }
};

/// An order as seen by one user; `user_id` empty means any user's (operators, jobs).
struct OrderRef {
  std::string user_id;
  std::string order_id;
};

/// Which of a user's orders to list; empty filters match all.
struct OrderQuery {
  std::string user_id;
  std::string item_id;
  std::string status;
};

/// One user's request for one unit of one item. Inputs are already validated by the host.
struct PlaceRequest {
  std::string user_id;
  std::string item_id;
  std::string idempotency_key;
};

/// A new item (SPEC §2). Times are RFC 3339 strings; absent means the default.
struct NewItem {
  std::string id;
  std::string name;
  int total_stock = 0;
  int payment_window_s = 600;
  int per_user_limit = 1;
  std::optional<int> waitlist_limit;    ///< absent: unlimited
  std::optional<std::string> opens_at;  ///< absent: now
  std::optional<std::string> closes_at;
  bool paused = false;
};

/// An operator's change to an item; absent fields stay as they are.
struct ItemChange {
  std::optional<int> add_stock;  ///< restock: given to the waiting line first
  std::optional<bool> paused;
  bool set_closes_at = false;  ///< with closes_at absent: the sale no longer closes
  std::optional<std::string> closes_at;
};

/// A payment link the provider made for a reserved order.
struct PaymentLink {
  std::string order_id;
  std::string link;
};

/// How an order ends.
enum class EndKind {
  cancel,        ///< by its user: a WAITING or RESERVED order
  force_expire,  ///< by an operator: a RESERVED order, now
  force_cancel,  ///< by an operator: a WAITING or RESERVED order of any user
};

/// The authority over stock and orders. Exactly one storage plugin is loaded, and it is
/// required; its health() reports whether the database answers. Every method but place()
/// blocks and must be called from a worker thread, never a network thread.
class BOOST_SYMBOL_VISIBLE Storage : public Plugin {
 public:
  static constexpr const char* kKind = "storage";
  using Done = std::function<void(StorageResult)>;

  /// Places an order: reserved if a unit is free, else waiting, else an error. Concurrent
  /// placements for one item are granted together in arrival order. Never blocks; `done` is
  /// called exactly once, from a storage thread. Body: the order (status "reserved"/"waiting");
  /// a repeated (user, idempotency key) answers the first body again, byte for byte.
  virtual void place(PlaceRequest request, Done done) = 0;

  /// One order of `order.user_id` (not_found for another user's).
  virtual StorageResult get_order(const OrderRef& order) = 0;
  /// One order of any user, for an operator: get_order's body plus "user_id" and "history",
  /// [{"at", "what": "placed" (with "status") | "promoted" | "payment_succeeded" |
  /// "payment_failed" | "confirmed" | "cancelled" | "expired", ...}], oldest first.
  virtual StorageResult order_history(const std::string& order_id) = 0;
  /// {"orders": [...]} of `query.user_id`, newest first.
  virtual StorageResult list_orders(const OrderQuery& query) = 0;
  /// Ends an order. A freed unit promotes the head waiter.
  virtual StorageResult end_order(const OrderRef& order, EndKind kind) = 0;

  /// One item; `admin` adds reserved and confirmed counts.
  virtual StorageResult get_item(const std::string& item_id, bool admin) = 0;
  /// {"items": [...]} with the admin counts.
  virtual StorageResult list_items() = 0;
  /// The created item, or already_exists / bad_request.
  virtual StorageResult create_item(const NewItem& item) = 0;
  virtual StorageResult update_item(const std::string& item_id, const ItemChange& change) = 0;
  /// {"item_id", "waiting", "offset", "waitlist": [{position, order_id, user_id, waitlist_seq,
  /// waiting_since}]}: at most `limit` entries of the line from position `offset` + 1 on.
  virtual StorageResult waitlist(const std::string& item_id, long long offset, int limit) = 0;
  /// {"item_id", "leases": [{reservation_id, order_id, user_id, granted_at, expires_at}]},
  /// soonest expiry first, at most `limit`.
  virtual StorageResult leases(const std::string& item_id, int limit) = 0;

  /// Stores the payment links of RESERVED orders that have none yet, in one transaction (each
  /// link then surfaces as a payment_link.ready event). One result per link, in order: none
  /// when stored; invalid_transition when the order is past reserved or already has a link;
  /// not_found when no reserved order is visible yet (PostgreSQL may stream a commit a moment
  /// before other sessions see it: the caller retries shortly) or the id is no order id;
  /// unavailable for every link when the database fails.
  virtual std::vector<StorageResult> set_payment_links(const std::vector<PaymentLink>& links) = 0;
  /// Touches an item as a placement would: reclaims lapsed leases, promotes the line, or ends it
  /// once the sale has closed. Body: the item with its counts.
  virtual StorageResult sweep_item(const std::string& item_id) = 0;

  /// A payment provider's callback; body {"result": "confirmed" | "failed" |
  /// "refund_required" | "unknown_order"}; a repeated event_id answers error "duplicate"
  /// with the first result and changes nothing.
  virtual StorageResult record_payment(const std::string& event_id, const std::string& order_id,
                                       bool succeeded) = 0;

  /// The device registry of push channels (POST/DELETE /v1/devices). Registers `token` for
  /// `user_id` (a token registered by another user moves to this one); body {"token"}.
  virtual StorageResult register_device(const std::string& user_id, const std::string& token) = 0;
  /// Drops one of the user's tokens; not_found when the user has no such token.
  virtual StorageResult drop_device(const std::string& user_id, const std::string& token) = 0;
  /// The registered tokens of each of `user_ids` (users without any are absent); one query.
  virtual std::map<std::string, std::vector<std::string>> device_tokens(
      const std::vector<std::string>& user_ids) = 0;
  /// Deletes tokens a push provider reported as gone, whoever registered them.
  virtual void forget_devices(const std::vector<std::string>& tokens) = 0;
};

}  // namespace v1
}  // namespace flashsale::sdk
