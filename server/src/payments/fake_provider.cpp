// See fake_provider.hpp.
#include "payments/fake_provider.hpp"

#include <deque>
#include <map>
#include <mutex>

namespace flashsale::payments {

// The refunds kept: the latest ones, so a long-running demo or soak does not grow without bound
// (0.8 KiB per refund kept; at a soak's 210 late payments a minute, 10,000 took 48 minutes to
// fill, longer than the soak, whose verdict then saw the stand-in's list as the service's growth).
constexpr std::size_t kRefundsKept = 1000;

void add_fake_provider_routes(http::Router& router) {
  struct Refunds {
    std::mutex mutex;
    std::map<std::string, nlohmann::json> by_event;  // a refund per payment event, once
    std::deque<std::string> order;                   // by_event's keys, oldest first
  };
  auto refunds = std::make_shared<Refunds>();

  router.add("POST", "/fake-payments/links", [](http::Request& req, const http::Reply& reply) {
    http::Response error;
    const auto body = http::parse_json_object(req, error);
    if (!body) return reply(error);
    const std::string order = body->value("order_id", "");
    if (order.empty())
      return reply(http::error_response(400, "bad_request", "order_id is required"));
    reply(http::json_response(201, {{"url", "https://payments.invalid/checkout/" + order}}));
  });
  router.add("POST", "/fake-payments/refunds",
             [refunds](http::Request& req, const http::Reply& reply) {
               http::Response error;
               const auto body = http::parse_json_object(req, error);
               if (!body) return reply(error);
               const std::string event = body->value("event_id", "");
               if (event.empty())
                 return reply(http::error_response(400, "bad_request", "event_id is required"));
               std::lock_guard lock(refunds->mutex);
               const bool added =
                   refunds->by_event
                       .emplace(event, nlohmann::json{{"refund_id", "rf-" + event},
                                                      {"order_id", body->value("order_id", "")},
                                                      {"event_id", event}})
                       .second;
               reply(http::json_response(201, refunds->by_event.at(event)));
               if (!added) return;
               refunds->order.push_back(event);
               if (refunds->order.size() > kRefundsKept) {
                 refunds->by_event.erase(refunds->order.front());
                 refunds->order.pop_front();
               }
             });
  router.add("GET", "/fake-payments/refunds", [refunds](http::Request&, const http::Reply& reply) {
    std::lock_guard lock(refunds->mutex);
    auto list = nlohmann::json::array();
    for (const auto& [event, refund] : refunds->by_event) list.push_back(refund);
    reply(http::json_response(200, {{"refunds", list}}));
  });
}

}  // namespace flashsale::payments
