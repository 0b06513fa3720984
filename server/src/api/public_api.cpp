// See public_api.hpp. Handlers check the input, then either hand a placement to the storage
// plugin's coalescer (no blocking) or run the storage call on the worker pool.
#include "api/public_api.hpp"

#include <openssl/crypto.h>

#include <flashsale/crypto.hpp>
#include <flashsale/sdk/storage.hpp>

#include "api/blocking.hpp"
#include "api/storage_response.hpp"
#include "api/validation.hpp"
#include "jobs/slow_path.hpp"
#include "log.hpp"

namespace flashsale::api {
namespace {

using http::Reply;
using http::Request;

// FCM registration tokens run to about 200 characters; leave room for other providers.
constexpr std::size_t kMaxDeviceToken = 4096;

const std::set<std::string> kStatuses = {"waiting", "reserved", "confirmed", "cancelled",
                                         "expired"};

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

// The caller's user id; otherwise answers the error and returns nullopt.
std::optional<std::string> identify(const Request& req, const std::string& header,
                                    const Reply& reply) {
  if (auto error = identity_error(req, header)) {
    reply(std::move(*error));
    return std::nullopt;
  }
  return req.header(header);
}

http::Response not_found(const std::string& what) {
  return http::error_response(404, "not_found", "no " + what);
}

bool signature_ok(const std::string& secret, const Request& req) {
  if (secret.empty()) return true;
  std::string given = req.header("X-Signature");
  if (given.rfind("sha256=", 0) == 0) given = given.substr(7);
  const std::string expected = crypto::hmac_sha256_hex(secret, req.body);
  return given.size() == expected.size() &&
         CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

}  // namespace

void add_public_routes(http::Router& router, sdk::Storage& storage, sdk::Scheduler* scheduler,
                       WorkerPool& workers, PublicApiOptions options) {
  const std::string header = options.identity_header;

  router.add("POST", "/v1/items/{item}/orders", [&storage, header](Request& req, Reply reply) {
    const auto user = identify(req, header, reply);
    if (!user) return;
    const std::string item = req.params["item"];
    if (!is_item_id(item)) return reply(not_found("item " + item));
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
    storage.place({*user, item, key},
                  [reply](sdk::StorageResult result) { reply(storage_response(result, 202)); });
  });

  router.add("GET", "/v1/orders/{id}", [&storage, &workers, header](Request& req, Reply reply) {
    const auto user = identify(req, header, reply);
    if (!user) return;
    const std::string id = req.params["id"];
    if (!is_uuid(id)) return reply(not_found("order " + id));
    on_worker(workers, reply, [&storage, user = *user, id] {
      return storage_response(storage.get_order(user, id), 200);
    });
  });

  router.add("GET", "/v1/orders", [&storage, &workers, header](Request& req, Reply reply) {
    const auto user = identify(req, header, reply);
    if (!user) return;
    for (const auto& [key, value] : req.query) {
      if (key != "item" && key != "status") {
        return reply(
            http::error_response(400, "bad_request", "unknown query parameter '" + key + "'"));
      }
    }
    const std::string item = req.query["item"];
    const std::string status = req.query["status"];
    if (!item.empty() && !is_item_id(item)) {
      return reply(http::error_response(400, "bad_request", "item must match [a-z0-9-]{1,64}"));
    }
    if (!status.empty() && !kStatuses.count(status)) {
      return reply(http::error_response(
          400, "bad_request", "status must be waiting, reserved, confirmed, cancelled or expired"));
    }
    on_worker(workers, reply, [&storage, user = *user, item, status] {
      return storage_response(storage.list_orders(user, item, status), 200);
    });
  });

  router.add("POST", "/v1/orders/{id}/cancel",
             [&storage, &workers, header](Request& req, Reply reply) {
               const auto user = identify(req, header, reply);
               if (!user) return;
               const std::string id = req.params["id"];
               if (!is_uuid(id)) return reply(not_found("order " + id));
               on_worker(workers, reply, [&storage, user = *user, id] {
                 return storage_response(storage.end_order(id, user, sdk::EndKind::cancel), 200);
               });
             });

  router.add("GET", "/v1/items/{item}", [&storage, &workers, header](Request& req, Reply reply) {
    if (!identify(req, header, reply)) return;
    const std::string item = req.params["item"];
    if (!is_item_id(item)) return reply(not_found("item " + item));
    on_worker(workers, reply,
              [&storage, item] { return storage_response(storage.get_item(item, false), 200); });
  });

  router.add("POST", "/v1/devices", [&storage, &workers, header](Request& req, Reply reply) {
    const auto user = identify(req, header, reply);
    if (!user) return;
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
    on_worker(workers, reply, [&storage, user = *user, token] {
      return storage_response(storage.register_device(user, token), 201);
    });
  });

  router.add("DELETE", "/v1/devices/{token}",
             [&storage, &workers, header](Request& req, Reply reply) {
               const auto user = identify(req, header, reply);
               if (!user) return;
               const std::string token = req.params["token"];
               if (!is_printable(token, kMaxDeviceToken)) return reply(not_found("device token"));
               on_worker(workers, reply, [&storage, user = *user, token] {
                 auto r = storage.drop_device(user, token);
                 if (!r.error.empty()) return storage_response(r, 204);
                 return http::Response{204, "", "application/json", {}};
               });
             });

  // The payment provider calls this directly, not through the gateway: no user identity, but
  // a signature when a secret is configured.
  router.add(
      "POST", "/v1/payments/webhook",
      [&storage, scheduler, &workers, secret = options.webhook_secret](Request& req, Reply reply) {
        if (!signature_ok(secret, req)) {
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
        on_worker(workers, reply, [&storage, scheduler, event_id, order_id, succeeded] {
          auto r = storage.record_payment(event_id, order_id, succeeded);
          // The refund is a job keyed by the payment event: enqueued again on a
          // duplicate callback, so a provider retrying after a failed enqueue (answered
          // 500) still gets its money back, once.
          if ((r.error.empty() || r.error == "duplicate") && scheduler &&
              nlohmann::json::parse(r.body).value("result", "") == "refund_required") {
            scheduler->enqueue({jobs::refund_job(order_id, event_id)});
          }
          if (r.error == "duplicate") {
            auto body = nlohmann::json::parse(r.body);
            body["duplicate"] = true;
            return http::json_response(200, body);
          }
          return storage_response(r, 200);
        });
      });
}

void add_user_streams(http::Router& router, const std::vector<sdk::UserStreamRoute>& routes,
                      const std::string& identity_header) {
  for (const auto& route : routes) {
    const auto stream_request = [identity_header](const Request& req) {
      return sdk::UserStreamRequest{req.header(identity_header), req.query};
    };
    router.add_websocket(
        route.path,
        [route, stream_request](const Request& req, std::shared_ptr<http::WebSocket> client) {
          try {
            route.open(stream_request(req), client);
          } catch (const std::exception& e) {
            log::error("plugin route " + route.path + " threw on open: " + e.what());
            client->close("internal error");
          }
          client->release("");  // what open() queued goes out now
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
