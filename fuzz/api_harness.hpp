// What the API fuzz targets share: the real public and admin routes (the handlers' own checks),
// served without sockets over a storage and a scheduler that check what reaches them. The SDK
// promises plugins validated input, so a value that breaks a rule of the API reaching them is a
// defect; so is a request that never gets an answer.
#pragma once

#include <flashsale/sdk/scheduler.hpp>
#include <flashsale/sdk/storage.hpp>
#include <string>

#include "api/activity_rates.hpp"
#include "api/placement_rates.hpp"
#include "http/router.hpp"
#include "worker_pool.hpp"

namespace flashsale::fuzz {

/// Reports a defect on stderr and aborts, which libFuzzer records as a crash.
[[noreturn]] void defect(const std::string& what);

/// What the storage answers: each is something the postgres plugin may answer.
enum class Outcome { ok, not_found, duplicate, refund_required, unavailable };

/// A storage plugin that checks its input against the API's rules and answers `outcome`.
class CheckingStorage final : public sdk::Storage {
 public:
  Outcome outcome = Outcome::ok;
  int calls = 0;  ///< operations that reached the storage (read after the answer)

  void place(sdk::PlaceRequest request, Done done) override;
  sdk::StorageResult get_order(const sdk::OrderRef& order) override;
  sdk::StorageResult order_history(const std::string& order_id) override;
  sdk::StorageResult list_orders(const sdk::OrderQuery& query) override;
  sdk::StorageResult end_order(const sdk::OrderRef& order, sdk::EndKind kind) override;
  sdk::StorageResult get_item(const std::string& item_id, bool admin) override;
  sdk::StorageResult list_items() override;
  sdk::StorageResult create_item(const sdk::NewItem& item) override;
  sdk::StorageResult update_item(const std::string& item_id,
                                 const sdk::ItemChange& change) override;
  sdk::StorageResult waitlist(const std::string& item_id, long long offset, int limit) override;
  sdk::StorageResult leases(const std::string& item_id, int limit) override;
  std::vector<sdk::StorageResult> set_payment_links(
      const std::vector<sdk::PaymentLink>& links) override;
  sdk::StorageResult sweep_item(const std::string& item_id) override;
  sdk::StorageResult record_payment(const std::string& event_id, const std::string& order_id,
                                    bool succeeded) override;
  sdk::StorageResult register_device(const std::string& user_id, const std::string& token) override;
  sdk::StorageResult drop_device(const std::string& user_id, const std::string& token) override;
  std::map<std::string, std::vector<std::string>> device_tokens(
      const std::vector<std::string>& user_ids) override;
  void forget_devices(const std::vector<std::string>& tokens) override;

 private:
  sdk::StorageResult answer(const nlohmann::json& resource);
};

/// A scheduler that records what is enqueued.
class RecordingScheduler final : public sdk::Scheduler {
 public:
  std::vector<sdk::NewJob> enqueued;  ///< read after the answer

  void on(const std::string& kind, Handler handler) override;
  void on_batch(const std::string& kind, BatchHandler handler) override;
  std::size_t enqueue(const std::vector<sdk::NewJob>& jobs) override;
  nlohmann::json list_jobs(const std::string& state, int limit) override;
  bool retry_job(const std::string& id) override;
};

/// The routes of both listeners as app.cpp registers them (identity header X-User-Id, one
/// plugin WebSocket route /v1/stream), over the checking storage and scheduler.
class Api {
 public:
  /// `webhook_secret` empty: the webhook's signature is not checked.
  explicit Api(const std::string& webhook_secret);

  CheckingStorage storage;
  RecordingScheduler scheduler;
  http::Router public_routes;
  http::Router admin_routes;

  /// Routes `req` and runs what the listener's session would: the WebSocket check of an upgrade
  /// request (101 when it lets it in), or the handler, waiting for its answer. Status 0: the
  /// session answers without a handler (404, 405, 426).
  http::Response serve(const http::Router& router, http::Request& req, bool upgrade);

 private:
  WorkerPool workers_{1, 16};
  api::PlacementRates rates_;
  api::ActivityRates activity_;
};

}  // namespace flashsale::fuzz
