// See admin_api.hpp.
#include "api/admin_api.hpp"

#include <algorithm>
#include <flashsale/sdk/storage.hpp>
#include <initializer_list>
#include <string_view>

#include "api/blocking.hpp"
#include "api/storage_response.hpp"
#include "api/validation.hpp"

namespace flashsale::api {
namespace {

using http::Reply;
using http::Request;

constexpr long long kMaxStock = 1'000'000'000;

// Parses a JSON object body and runs check(body); a failure answers 400 and returns nullopt.
template <typename Check>
auto checked_body(const Request& req, const Reply& reply, Check check)
    -> std::optional<decltype(check(std::declval<const nlohmann::json&>()))> {
  http::Response error;
  const auto body = http::parse_json_object(req, error);
  if (!body) {
    reply(error);
    return std::nullopt;
  }
  try {
    return check(*body);
  } catch (const BadRequest& e) {
    reply(http::error_response(400, "bad_request", e.what()));
    return std::nullopt;
  }
}

sdk::NewItem parse_new_item(const nlohmann::json& body) {
  Fields f(body, {"id", "name", "total_stock", "payment_window_s", "per_user_limit",
                  "waitlist_limit", "opens_at", "closes_at", "paused"});
  sdk::NewItem item;
  item.id = *f.text("id", 1, 64, true);
  if (!is_item_id(item.id)) throw BadRequest("field 'id' must match [a-z0-9-]{1,64}");
  item.name = *f.text("name", 1, 200, true);
  item.total_stock = static_cast<int>(*f.integer("total_stock", 0, kMaxStock, true));
  item.payment_window_s = static_cast<int>(f.integer("payment_window_s", 1, 86400).value_or(600));
  item.per_user_limit = static_cast<int>(f.integer("per_user_limit", 1, 1000).value_or(1));
  if (!f.is_null("waitlist_limit")) {
    if (auto limit = f.integer("waitlist_limit", 0, kMaxStock))
      item.waitlist_limit = static_cast<int>(*limit);
  }
  item.opens_at = f.time("opens_at");
  if (!f.is_null("closes_at")) item.closes_at = f.time("closes_at");
  // (A closes_at alone may be in the past: the item is made closed.)
  if (item.opens_at && item.closes_at &&
      *rfc3339_unix_us(*item.closes_at) <= *rfc3339_unix_us(*item.opens_at)) {
    throw BadRequest("field 'closes_at' must be after 'opens_at'");
  }
  item.paused = f.boolean("paused").value_or(false);
  return item;
}

sdk::ItemChange parse_change(const nlohmann::json& body) {
  Fields f(body, {"add_stock", "paused", "closes_at"});
  if (body.empty()) throw BadRequest("nothing to change: give add_stock, paused or closes_at");
  sdk::ItemChange change;
  if (auto n = f.integer("add_stock", 1, kMaxStock)) change.add_stock = static_cast<int>(*n);
  change.paused = f.boolean("paused");
  if (f.has("closes_at")) {
    change.set_closes_at = true;
    if (!f.is_null("closes_at")) change.closes_at = f.time("closes_at");
  }
  return change;
}

// ?`name`=N, at most `digits` digits, within min..max, default `fallback`; nullopt (after
// answering 400) when malformed.
std::optional<long long> number_param(const Request& req, const Reply& reply,
                                      const std::string& name, std::size_t digits,
                                      long long fallback, long long min, long long max) {
  const auto it = req.query.find(name);
  if (it == req.query.end()) return fallback;
  const std::string& text = it->second;
  const bool number =
      !text.empty() && text.size() <= digits &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!number || std::stoll(text) < min || std::stoll(text) > max) {
    reply(http::error_response(
        400, "bad_request",
        name + " must be " + std::to_string(min) + " to " + std::to_string(max)));
    return std::nullopt;
  }
  return std::stoll(text);
}

// False (after answering 400) when the query has a parameter outside `known`.
bool only_known_params(const Request& req, const Reply& reply,
                       std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : req.query) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      reply(http::error_response(400, "bad_request", "unknown query parameter '" + key + "'"));
      return false;
    }
  }
  return true;
}

// ?limit=N within 1..max, default `fallback`; nullopt (after answering 400) when malformed or
// when the query has a parameter outside `known`.
std::optional<int> limit_param(const Request& req, const Reply& reply, int fallback, int max,
                               std::initializer_list<std::string_view> known = {"limit"}) {
  if (!only_known_params(req, reply, known)) return std::nullopt;
  const auto limit = number_param(req, reply, "limit", 6, fallback, 1, max);
  if (!limit) return std::nullopt;
  return static_cast<int>(*limit);
}

}  // namespace

void add_admin_routes(http::Router& router, sdk::Storage& storage, sdk::Scheduler* scheduler,
                      WorkerPool& workers, const PlacementRates& rates,
                      const ActivityRates& activity) {
  router.add("POST", "/admin/items", [&storage, &workers](Request& req, const Reply& reply) {
    auto item = checked_body(req, reply, parse_new_item);
    if (!item) return;
    on_worker(workers, reply, [&storage, item = std::move(*item)] {
      return storage_response(storage.create_item(item), 201);
    });
  });

  router.add("GET", "/admin/items", [&storage, &workers](Request&, const Reply& reply) {
    on_worker(workers, reply, [&storage] { return storage_response(storage.list_items(), 200); });
  });

  router.add("GET", "/admin/items/{item}", [&storage, &workers](Request& req, const Reply& reply) {
    const std::string item = req.params["item"];
    if (!is_item_id(item)) return reply(http::error_response(404, "not_found", "no item " + item));
    on_worker(workers, reply,
              [&storage, item] { return storage_response(storage.get_item(item, true), 200); });
  });

  router.add("PATCH", "/admin/items/{item}",
             [&storage, &workers](Request& req, const Reply& reply) {
               const std::string item = req.params["item"];
               if (!is_item_id(item))
                 return reply(http::error_response(404, "not_found", "no item " + item));
               auto change = checked_body(req, reply, parse_change);
               if (!change) return;
               on_worker(workers, reply, [&storage, item, change = *change] {
                 return storage_response(storage.update_item(item, change), 200);
               });
             });

  router.add("GET", "/admin/items/{item}/waitlist",
             [&storage, &workers](Request& req, const Reply& reply) {
               const std::string item = req.params["item"];
               if (!is_item_id(item))
                 return reply(http::error_response(404, "not_found", "no item " + item));
               const auto limit = limit_param(req, reply, 100, 1000, {"limit", "offset"});
               if (!limit) return;
               const auto offset = number_param(req, reply, "offset", 10, 0, 0, kMaxStock);
               if (!offset) return;
               on_worker(workers, reply, [&storage, item, offset = *offset, limit = *limit] {
                 return storage_response(storage.waitlist(item, offset, limit), 200);
               });
             });

  router.add("GET", "/admin/items/{item}/placements", [&rates](Request& req, const Reply& reply) {
    const std::string item = req.params["item"];
    if (!is_item_id(item)) return reply(http::error_response(404, "not_found", "no item " + item));
    if (!only_known_params(req, reply, {})) return;
    reply(http::json_response(200, rates.window(item, sdk::now_unix_us() / 1'000'000)));
  });

  router.add("GET", "/admin/activity", [&activity](Request& req, const Reply& reply) {
    if (!only_known_params(req, reply, {"item"})) return;
    const std::string item = req.query.count("item") ? req.query["item"] : "";
    if (req.query.count("item") && !is_item_id(item)) {
      return reply(http::error_response(400, "bad_request",
                                        "query parameter 'item' must match [a-z0-9-]{1,64}"));
    }
    reply(http::json_response(200, activity.window(item, sdk::now_unix_us() / 1'000'000)));
  });

  router.add("GET", "/admin/items/{item}/leases",
             [&storage, &workers](Request& req, const Reply& reply) {
               const std::string item = req.params["item"];
               if (!is_item_id(item))
                 return reply(http::error_response(404, "not_found", "no item " + item));
               const auto limit = limit_param(req, reply, 1000, 10000);
               if (!limit) return;
               on_worker(workers, reply, [&storage, item, limit = *limit] {
                 return storage_response(storage.leases(item, limit), 200);
               });
             });

  router.add("GET", "/admin/orders", [&storage, &workers](Request& req, const Reply& reply) {
    const std::string user = req.query["user"];
    if (!is_printable(user, 256)) {
      return reply(http::error_response(400, "bad_request",
                                        "user must be a user id, 1-256 printable characters"));
    }
    sdk::OrderQuery query;
    try {
      query = order_query(req.query, user, {"user"});
    } catch (const BadRequest& e) {
      return reply(http::error_response(400, "bad_request", e.what()));
    }
    on_worker(workers, reply,
              [&storage, query] { return storage_response(storage.list_orders(query), 200); });
  });

  router.add("GET", "/admin/orders/{id}", [&storage, &workers](Request& req, const Reply& reply) {
    const std::string id = req.params["id"];
    if (!is_uuid(id)) return reply(http::error_response(404, "not_found", "no order " + id));
    on_worker(workers, reply,
              [&storage, id] { return storage_response(storage.order_history(id), 200); });
  });

  // An operator ends any user's order: expire a lease now, or cancel a waiting or reserved one.
  for (const auto& [action, kind] : {std::pair{"expire", sdk::EndKind::force_expire},
                                     std::pair{"cancel", sdk::EndKind::force_cancel}}) {
    router.add("POST", std::string("/admin/orders/{id}/") + action,
               [&storage, &workers, kind = kind](Request& req, const Reply& reply) {
                 const std::string id = req.params["id"];
                 if (!is_uuid(id))
                   return reply(http::error_response(404, "not_found", "no order " + id));
                 on_worker(workers, reply, [&storage, id, kind] {
                   return storage_response(storage.end_order({.user_id = "", .order_id = id}, kind),
                                           200);
                 });
               });
  }

  if (!scheduler) return;
  router.add("GET", "/admin/jobs", [scheduler, &workers](Request& req, const Reply& reply) {
    const auto limit = limit_param(req, reply, 100, 1000, {"limit", "state"});
    if (!limit) return;
    const std::string state = req.query.count("state") ? req.query["state"] : "all";
    if (state != "all" && state != "queued" && state != "running" && state != "done" &&
        state != "dead") {
      return reply(http::error_response(400, "bad_request",
                                        "state must be all, queued, running, done or dead"));
    }
    on_worker(workers, reply, [scheduler, state, limit = *limit] {
      auto answer = scheduler->list_jobs(state, limit);
      answer["state"] = state;  // which jobs these are, also when the query left it out
      return http::json_response(200, answer);
    });
  });
  router.add("POST", "/admin/jobs/{id}/retry",
             [scheduler, &workers](Request& req, const Reply& reply) {
               const std::string id = req.params["id"];
               if (!is_printable(id, 64))
                 return reply(http::error_response(404, "not_found", "no job " + id));
               on_worker(workers, reply, [scheduler, id] {
                 if (!scheduler->retry_job(id)) {
                   return http::error_response(404, "not_found", "no dead job " + id);
                 }
                 return http::json_response(200, {{"id", id}, {"state", "queued"}});
               });
             });
}

}  // namespace flashsale::api
