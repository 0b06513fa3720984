// See public_api.hpp. Handlers check the input, then either hand a placement to the storage
// plugin's coalescer (no blocking) or run the storage call on the worker pool.
#include "api/public_api.hpp"

#include <flashsale/crypto.hpp>
#include <flashsale/sdk/storage.hpp>

#include "api/blocking.hpp"
#include "api/storage_response.hpp"
#include "api/validation.hpp"
#include "log.hpp"
#include "payments/settlement.hpp"

namespace flashsale::api {
namespace {

using http::Reply;
using http::Request;

// FCM registration tokens run to about 200 characters; leave room for other providers.
constexpr std::size_t kMaxDeviceToken = 4096;

// Why the request carries no usable user id, or nullopt when it does.
std::optional<http::Response> identity_error(const Request& req, const std::string& header) {
  std::string lower = header;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (req.repeated_headers.count(lower)) {
    return http::error_response(400, "bad_request",
                                "the " + header + " header came more than once");
  }
  const std::string user = req.header(header);
  if (user.empty()) {
    return http::error_response(401, "missing_identity", "the " + header + " header is missing");
  }
  if (!is_printable(user, 256)) {
    return http::error_response(400, "bad_request",
                                "the " + header + " header must be 1-256 printable characters");
  }
  return std::nullopt;
}

http::Response not_found(const std::string& what) {
  return http::error_response(404, "not_found", "no " + what);
}

bool signature_ok(const std::string& secret, const Request& req) {
  if (secret.empty()) return true;
  std::string given = req.header("X-Signature");
  if (given.rfind("sha256=", 0) == 0) given = given.substr(7);
  // Hex digits in either case (what the provider's library writes is its choice).
  for (auto& c : given) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return crypto::equal_constant_time(given, crypto::hmac_sha256_hex(secret, req.body));
}

// The routes' handlers, one member each. Those of identified users get the caller's id from the
// identity filter (add_public_routes); the webhook is called by the payment provider.
class PublicApi {
 public:
  PublicApi(sdk::Storage& storage, sdk::Scheduler* scheduler, WorkerPool& workers,
            PlacementRates& rates, std::string webhook_secret)
      : storage_(storage),
        scheduler_(scheduler),
        workers_(workers),
        rates_(rates),
        webhook_secret_(std::move(webhook_secret)) {}

  void place_order(Request& req, const Reply& reply, const std::string& user) {
    const std::string item = req.params["item"];
    if (!is_item_id(item)) return reply(not_found("item " + item));
    if (req.repeated_headers.count("idempotency-key")) {
      return reply(http::error_response(400, "bad_request",
                                        "the Idempotency-Key header came more than once"));
    }
    const std::string key = req.header("Idempotency-Key");
    if (!is_printable(key, 128)) {
      return reply(http::error_response(
          400, "bad_request",
          "the Idempotency-Key header is required: 1-128 printable characters"));
    }
    if (!req.body.empty()) {
      http::Response error;
      const auto body = http::parse_json_object(req, error);
      if (!body) return reply(error);
      if (!body->empty()) {
        return reply(http::error_response(
            400, "bad_request",
            "unknown field '" + body->begin().key() + "': placing an order takes no fields"));
      }
    }
    const auto started = std::chrono::steady_clock::now();
    storage_.place({user, item, key}, [&rates = rates_, reply, item,
                                       started](const sdk::StorageResult& result) {
      // Counted before the answer leaves, so a client that reads the rates next sees its own.
      rates.record(
          item, result.ok() ? "accepted" : sdk::code(result.error),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
          sdk::now_unix_us() / 1'000'000);
      reply(storage_response(result, 202));
    });
  }

  void get_order(Request& req, const Reply& reply, const std::string& user) {
    const std::string id = req.params["id"];
    if (!is_uuid(id)) return reply(not_found("order " + id));
    on_worker(workers_, reply, [this, user, id] {
      return storage_response(storage_.get_order({.user_id = user, .order_id = id}), 200);
    });
  }

  void list_orders(Request& req, const Reply& reply, const std::string& user) {
    sdk::OrderQuery query;
    try {
      query = order_query(req.query, user);
    } catch (const BadRequest& e) {
      return reply(http::error_response(400, "bad_request", e.what()));
    }
    on_worker(workers_, reply,
              [this, query] { return storage_response(storage_.list_orders(query), 200); });
  }

  void cancel_order(Request& req, const Reply& reply, const std::string& user) {
    const std::string id = req.params["id"];
    if (!is_uuid(id)) return reply(not_found("order " + id));
    on_worker(workers_, reply, [this, user, id] {
      return storage_response(
          storage_.end_order({.user_id = user, .order_id = id}, sdk::EndKind::cancel), 200);
    });
  }

  void get_item(Request& req, const Reply& reply, const std::string&) {
    const std::string item = req.params["item"];
    if (!is_item_id(item)) return reply(not_found("item " + item));
    on_worker(workers_, reply,
              [this, item] { return storage_response(storage_.get_item(item, false), 200); });
  }

  void register_device(Request& req, const Reply& reply, const std::string& user) {
    http::Response error;
    const auto body = http::parse_json_object(req, error);
    if (!body) return reply(error);
    std::string token;
    try {
      token = *Fields(*body, {"token"}).text("token", 1, kMaxDeviceToken, true);
      if (!is_printable(token, kMaxDeviceToken) || token.find('/') != std::string::npos) {
        throw BadRequest("token must be printable characters without '/'");
      }
    } catch (const BadRequest& e) {
      return reply(http::error_response(400, "bad_request", e.what()));
    }
    on_worker(workers_, reply, [this, user, token] {
      return storage_response(storage_.register_device(user, token), 201);
    });
  }

  void drop_device(Request& req, const Reply& reply, const std::string& user) {
    const std::string token = req.params["token"];
    if (!is_printable(token, kMaxDeviceToken)) return reply(not_found("device token"));
    on_worker(workers_, reply, [this, user, token] {
      auto r = storage_.drop_device(user, token);
      if (!r.ok()) return storage_response(r, 204);
      return http::Response{204, "", "application/json", {}};
    });
  }

  // The payment provider calls this directly, not through the gateway: no user identity, but
  // a signature when a secret is configured.
  void payment_webhook(Request& req, const Reply& reply) {
    if (!signature_ok(webhook_secret_, req)) {
      return reply(http::error_response(401, "bad_signature",
                                        "X-Signature is not the HMAC-SHA256 of the body"));
    }
    http::Response error;
    const auto body = http::parse_json_object(req, error);
    if (!body) return reply(error);
    std::string event_id, order_id;
    bool succeeded = false;
    try {
      Fields f(*body, {"event_id", "order_id", "outcome"});
      event_id = *f.text("event_id", 1, 200, true);
      order_id = *f.text("order_id", 36, 36, true);
      const auto outcome = *f.text("outcome", 1, 20, true);
      if (!is_uuid(order_id)) throw BadRequest("order_id must be a UUID");
      if (outcome != "succeeded" && outcome != "failed") {
        throw BadRequest("outcome must be \"succeeded\" or \"failed\"");
      }
      succeeded = outcome == "succeeded";
    } catch (const BadRequest& e) {
      return reply(http::error_response(400, "bad_request", e.what()));
    }
    on_worker(workers_, reply, [this, event_id, order_id, succeeded] {
      const auto r = payments::settle(storage_, scheduler_, event_id, order_id, succeeded);
      if (r.error == sdk::StorageError::duplicate) {
        auto body = nlohmann::json::parse(r.body);
        body["duplicate"] = true;
        return http::json_response(200, body);
      }
      return storage_response(r, 200);
    });
  }

 private:
  sdk::Storage& storage_;
  sdk::Scheduler* scheduler_;
  WorkerPool& workers_;
  PlacementRates& rates_;
  std::string webhook_secret_;
};

}  // namespace

void add_public_routes(http::Router& router, sdk::Storage& storage, sdk::Scheduler* scheduler,
                       WorkerPool& workers, PlacementRates& rates,
                       const PublicApiOptions& options) {
  // Lives as long as the routes: the router's handlers share it.
  auto api =
      std::make_shared<PublicApi>(storage, scheduler, workers, rates, options.webhook_secret);
  using UserHandler = void (PublicApi::*)(Request&, const Reply&, const std::string&);
  // The identity filter: only a request with a usable identity header reaches `handler`.
  const auto as_user = [api, header = options.identity_header](UserHandler handler) {
    return [api, header, handler](Request& req, const Reply& reply) {
      if (auto error = identity_error(req, header)) return reply(std::move(*error));
      const std::string user = req.header(header);
      ((*api).*handler)(req, reply, user);
    };
  };
  router.add("POST", "/v1/items/{item}/orders", as_user(&PublicApi::place_order));
  router.add("GET", "/v1/orders/{id}", as_user(&PublicApi::get_order));
  router.add("GET", "/v1/orders", as_user(&PublicApi::list_orders));
  router.add("POST", "/v1/orders/{id}/cancel", as_user(&PublicApi::cancel_order));
  router.add("GET", "/v1/items/{item}", as_user(&PublicApi::get_item));
  router.add("POST", "/v1/devices", as_user(&PublicApi::register_device));
  router.add("DELETE", "/v1/devices/{token}", as_user(&PublicApi::drop_device));
  router.add("POST", "/v1/payments/webhook",
             [api](Request& req, const Reply& reply) { api->payment_webhook(req, reply); });
}

void add_user_streams(http::Router& router, const std::vector<sdk::UserStreamRoute>& routes,
                      const std::string& identity_header) {
  for (const auto& route : routes) {
    const auto stream_request = [identity_header](const Request& req) {
      return sdk::UserStreamRequest{req.header(identity_header), req.query};
    };
    router.add_websocket(
        route.path,
        [route, stream_request](const Request& req,
                                const std::shared_ptr<http::WebSocket>& client) {
          try {
            route.open(stream_request(req), client);
          } catch (const std::exception& e) {
            log::error("plugin route " + route.path + " threw on open: " + e.what());
            client->close("internal error");
          }
          client->release({});  // what open() queued goes out now
        },
        [route, stream_request, identity_header](const Request& req) {
          if (auto error = identity_error(req, identity_header)) return error;
          std::string refusal;
          try {
            refusal = route.check(stream_request(req));
          } catch (const std::exception& e) {
            log::error("plugin route " + route.path + " threw on check: " + e.what());
            return std::optional(http::error_response(500, "internal", "internal error"));
          }
          if (refusal.empty()) return std::optional<http::Response>();
          return std::optional(http::error_response(400, "bad_request", refusal));
        });
  }
}

}  // namespace flashsale::api
