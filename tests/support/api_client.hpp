// The service's API as tests call it: typed helpers over http_request.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "support/http_client.hpp"

namespace flashsale::test {

/// POST /admin/items with `item` (id, name, total_stock, ...); requires 201.
nlohmann::json create_item(std::uint16_t admin_port, const nlohmann::json& item);
/// POST /v1/items/{item}/orders as `user` with Idempotency-Key `key`.
HttpResult place(std::uint16_t port, const std::string& user, const std::string& item,
                 const std::string& key);
/// POST /v1/orders/{id}/cancel as `user`.
HttpResult cancel(std::uint16_t port, const std::string& user, const std::string& order_id);
/// GET /v1/orders/{id} as `user`.
HttpResult get_order(std::uint16_t port, const std::string& user, const std::string& order_id);
/// GET /admin/items/{item}: the item with its counts.
nlohmann::json admin_item(std::uint16_t admin_port, const std::string& item);

}  // namespace flashsale::test
