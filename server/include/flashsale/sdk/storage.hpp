// Kind `storage`: the inventory semaphore and the order lifecycle (SPEC §2, §6).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "flashsale/sdk/plugin.hpp"

namespace flashsale::sdk {
inline namespace v1 {

/// What a storage operation did.
struct StorageResult {
  /// Empty on success; otherwise a SPEC §3 error code ("not_found", "sold_out",
  /// "invalid_transition", ...), or "unavailable" when the database could not be reached.
  std::string error;
  std::string message;  ///< Human text for an error.
  /// JSON text: the resource on success; for some errors the resource as it now is
  /// (e.g. the order that could not be cancelled).
  std::string body;
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

/// How an order ends.
enum class EndKind {
  cancel,        ///< by its user: a WAITING or RESERVED order
  force_expire,  ///< by an operator: a RESERVED order, now
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

  /// One order of `user_id` (not_found for another user's).
  virtual StorageResult get_order(const std::string& user_id, const std::string& order_id) = 0;
  /// {"orders": [...]} of `user_id`, newest first; empty filters match all.
  virtual StorageResult list_orders(const std::string& user_id, const std::string& item_id,
                                    const std::string& status) = 0;
  /// Ends an order; `user_id` empty means any user's. A freed unit promotes the head waiter.
  virtual StorageResult end_order(const std::string& order_id, const std::string& user_id,
                                  EndKind kind) = 0;

  /// One item; `admin` adds reserved and confirmed counts.
  virtual StorageResult get_item(const std::string& item_id, bool admin) = 0;
  /// {"items": [...]} with the admin counts.
  virtual StorageResult list_items() = 0;
  /// The created item, or already_exists / bad_request.
  virtual StorageResult create_item(const NewItem& item) = 0;
  virtual StorageResult update_item(const std::string& item_id, const ItemChange& change) = 0;
  /// {"item_id", "waiting", "waitlist": [{position, order_id, user_id, waiting_since}]}: the
  /// head of the line, at most `limit` entries.
  virtual StorageResult waitlist(const std::string& item_id, int limit) = 0;
  /// {"item_id", "leases": [{reservation_id, order_id, user_id, granted_at, expires_at}]},
  /// soonest expiry first, at most `limit`.
  virtual StorageResult leases(const std::string& item_id, int limit) = 0;

  /// Stores the payment link of a RESERVED order that has none yet (the link then surfaces as
  /// the payment_link.ready event); invalid_transition when the order is past reserved or
  /// already has a link; not_found when no reserved order is visible yet (PostgreSQL may stream
  /// a commit a moment before other sessions see it: the caller retries shortly).
  virtual StorageResult set_payment_link(const std::string& order_id, const std::string& link) = 0;
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
