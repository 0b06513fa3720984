// See api_harness.hpp.
#include "api_harness.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>

#include "api/admin_api.hpp"
#include "api/public_api.hpp"
#include "api/validation.hpp"

namespace flashsale::fuzz {
namespace {

constexpr long long kMaxStock = 1'000'000'000;

void require(bool ok, const std::string& what) {
  if (!ok) defect(what);
}

bool is_user(const std::string& s) { return api::is_printable(s, 256); }

// A JSON text field as the API admits it: min..max bytes, no control character.
bool is_text(const std::string& s, std::size_t min, std::size_t max) {
  return s.size() >= min && s.size() <= max &&
         std::none_of(s.begin(), s.end(), [](char c) { return c >= 0 && c < 0x20; });
}

bool in_range(long long n, long long min, long long max) { return n >= min && n <= max; }

sdk::StorageResult error(sdk::StorageError e) { return {e, "from the fuzz storage", ""}; }

}  // namespace

void defect(const std::string& what) {
  std::fprintf(stderr, "defect: %s\n", what.c_str());
  std::abort();
}

sdk::StorageResult CheckingStorage::answer(const nlohmann::json& resource) {
  ++calls;
  switch (outcome) {
    case Outcome::not_found:
      return error(sdk::StorageError::not_found);
    case Outcome::unavailable:
      return error(sdk::StorageError::unavailable);
    default:
      return {sdk::StorageError::none, "", resource.dump()};
  }
}

void CheckingStorage::place(sdk::PlaceRequest request, Done done) {
  require(is_user(request.user_id), "place: user id");
  require(api::is_item_id(request.item_id), "place: item id");
  require(api::is_printable(request.idempotency_key, 128), "place: idempotency key");
  done(answer({{"status", "reserved"}}));
}

sdk::StorageResult CheckingStorage::get_order(const sdk::OrderRef& order) {
  require(is_user(order.user_id) && api::is_uuid(order.order_id), "get_order: reference");
  return answer({{"id", order.order_id}});
}

sdk::StorageResult CheckingStorage::order_history(const std::string& order_id) {
  require(api::is_uuid(order_id), "order_history: order id");
  return answer({{"id", order_id}});
}

sdk::StorageResult CheckingStorage::list_orders(const sdk::OrderQuery& query) {
  require(is_user(query.user_id), "list_orders: user id");
  require(query.item_id.empty() || api::is_item_id(query.item_id), "list_orders: item id");
  static const std::set<std::string> statuses = {"",          "waiting",   "reserved",
                                                 "confirmed", "cancelled", "expired"};
  require(statuses.count(query.status) == 1, "list_orders: status");
  return answer({{"orders", nlohmann::json::array()}});
}

sdk::StorageResult CheckingStorage::end_order(const sdk::OrderRef& order, sdk::EndKind kind) {
  // Operators end any user's order; users only their own.
  const bool user_ok =
      kind == sdk::EndKind::cancel ? is_user(order.user_id) : order.user_id.empty();
  require(user_ok && api::is_uuid(order.order_id), "end_order: reference");
  return answer({{"id", order.order_id}});
}

sdk::StorageResult CheckingStorage::get_item(const std::string& item_id, bool) {
  require(api::is_item_id(item_id), "get_item: item id");
  return answer({{"id", item_id}});
}

sdk::StorageResult CheckingStorage::list_items() { return answer({{"items", {}}}); }

sdk::StorageResult CheckingStorage::create_item(const sdk::NewItem& item) {
  require(api::is_item_id(item.id), "create_item: id");
  require(is_text(item.name, 1, 200), "create_item: name");
  require(in_range(item.total_stock, 0, kMaxStock), "create_item: total_stock");
  require(in_range(item.payment_window_s, 1, 86400), "create_item: payment_window_s");
  require(in_range(item.per_user_limit, 1, 1000), "create_item: per_user_limit");
  require(!item.waitlist_limit || in_range(*item.waitlist_limit, 0, kMaxStock),
          "create_item: waitlist_limit");
  const auto opens = item.opens_at ? api::rfc3339_unix_us(*item.opens_at) : std::nullopt;
  const auto closes = item.closes_at ? api::rfc3339_unix_us(*item.closes_at) : std::nullopt;
  require(!item.opens_at || opens, "create_item: opens_at");
  require(!item.closes_at || closes, "create_item: closes_at");
  require(!opens || !closes || *closes > *opens, "create_item: closes_at not after opens_at");
  return answer({{"id", item.id}});
}

sdk::StorageResult CheckingStorage::update_item(const std::string& item_id,
                                                const sdk::ItemChange& change) {
  require(api::is_item_id(item_id), "update_item: item id");
  require(!change.add_stock || in_range(*change.add_stock, 1, kMaxStock), "update_item: add_stock");
  require(!change.closes_at || (change.set_closes_at && api::is_rfc3339(*change.closes_at)),
          "update_item: closes_at");
  require(change.add_stock || change.paused || change.set_closes_at, "update_item: no change");
  return answer({{"id", item_id}});
}

sdk::StorageResult CheckingStorage::waitlist(const std::string& item_id, long long offset,
                                             int limit) {
  require(api::is_item_id(item_id) && in_range(limit, 1, 1000) && in_range(offset, 0, kMaxStock),
          "waitlist: arguments");
  return answer({{"item_id", item_id}, {"waitlist", nlohmann::json::array()}});
}

sdk::StorageResult CheckingStorage::leases(const std::string& item_id, int limit) {
  require(api::is_item_id(item_id) && in_range(limit, 1, 10000), "leases: arguments");
  return answer({{"item_id", item_id}, {"leases", nlohmann::json::array()}});
}

std::vector<sdk::StorageResult> CheckingStorage::set_payment_links(
    const std::vector<sdk::PaymentLink>&) {
  defect("set_payment_links is no API operation");
}

sdk::StorageResult CheckingStorage::sweep_item(const std::string&) {
  defect("sweep_item is no API operation");
}

sdk::StorageResult CheckingStorage::record_payment(const std::string& event_id,
                                                   const std::string& order_id, bool) {
  require(is_text(event_id, 1, 200), "record_payment: event id");
  require(api::is_uuid(order_id), "record_payment: order id");
  switch (outcome) {
    case Outcome::duplicate:
      ++calls;
      return {sdk::StorageError::duplicate, "seen before", R"({"result":"confirmed"})"};
    case Outcome::refund_required:
      return answer({{"result", "refund_required"}});
    default:
      return answer({{"result", "confirmed"}});
  }
}

sdk::StorageResult CheckingStorage::register_device(const std::string& user_id,
                                                    const std::string& token) {
  require(is_user(user_id), "register_device: user id");
  require(api::is_printable(token, 4096) && token.find('/') == std::string::npos,
          "register_device: token");
  return answer({{"token", token}});
}

sdk::StorageResult CheckingStorage::drop_device(const std::string& user_id,
                                                const std::string& token) {
  require(is_user(user_id) && api::is_printable(token, 4096), "drop_device: arguments");
  return answer({});
}

std::map<std::string, std::vector<std::string>> CheckingStorage::device_tokens(
    const std::vector<std::string>&) {
  defect("device_tokens is no API operation");
}

void CheckingStorage::forget_devices(const std::vector<std::string>&) {
  defect("forget_devices is no API operation");
}

void RecordingScheduler::on(const std::string&, Handler) {}

void RecordingScheduler::on_batch(const std::string&, BatchHandler) {}

std::size_t RecordingScheduler::enqueue(const std::vector<sdk::NewJob>& jobs) {
  enqueued.insert(enqueued.end(), jobs.begin(), jobs.end());
  return jobs.size();
}

nlohmann::json RecordingScheduler::list_jobs(const std::string& state, int limit) {
  static const std::set<std::string> states = {"all", "queued", "running", "done", "dead"};
  require(states.count(state) == 1 && in_range(limit, 1, 1000), "list_jobs: arguments");
  return {{"jobs", nlohmann::json::array()}};
}

bool RecordingScheduler::retry_job(const std::string& id) {
  require(api::is_printable(id, 64), "retry_job: id");
  return true;
}

Api::Api(const std::string& webhook_secret) {
  api::add_public_routes(public_routes, storage, &scheduler, workers_, rates_,
                         {.identity_header = "X-User-Id", .webhook_secret = webhook_secret});
  // A plugin's route as the websocket push plugin adds one: it accepts every identified user.
  static const std::vector<sdk::UserStreamRoute> streams = {
      {"/v1/stream", [](const sdk::UserStreamRequest&) { return std::string(); },
       [](const sdk::UserStreamRequest&, const std::shared_ptr<sdk::WebSocketClient>&) {}}};
  api::add_user_streams(public_routes, streams, "X-User-Id");
  api::add_admin_routes(admin_routes, storage, &scheduler, workers_, rates_, activity_);
}

http::Response Api::serve(const http::Router& router, http::Request& req, bool upgrade) {
  const auto match = router.match(req);
  if (match.websocket) {
    // The session answers 426 to a plain GET; an upgrade is checked, then accepted.
    if (!upgrade) return {.status = 0};
    return (*match.check)(req).value_or(http::Response{.status = 101});
  }
  if (!match.handler) return {.status = 0};
  auto answer = std::make_shared<std::promise<http::Response>>();
  auto answered = answer->get_future();
  auto once = std::make_shared<std::atomic<bool>>(false);
  const http::Reply reply = [answer, once](http::Response response) {
    if (!once->exchange(true)) answer->set_value(std::move(response));
  };
  // As the session does: a handler that throws is answered 500.
  try {
    (*match.handler)(req, reply);
  } catch (const std::exception&) {
    reply(http::error_response(500, "internal", "internal error"));
  }
  return answered.get();
}

}  // namespace flashsale::fuzz
