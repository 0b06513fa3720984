// See api_client.hpp.
#include "support/api_client.hpp"

#include <stdexcept>

namespace flashsale::test {

nlohmann::json create_item(std::uint16_t admin_port, const nlohmann::json& item) {
  const auto r = http_request(admin_port, "POST", "/admin/items", item.dump());
  if (r.status != 201)
    throw std::runtime_error("create_item: " + std::to_string(r.status) + " " + r.body);
  return r.json();
}

HttpResult place(std::uint16_t port, const std::string& user, const std::string& item,
                 const std::string& key) {
  return http_request(port, "POST", "/v1/items/" + item + "/orders", "",
                      {{"X-User-Id", user}, {"Idempotency-Key", key}});
}

HttpResult cancel(std::uint16_t port, const std::string& user, const std::string& order_id) {
  return http_request(port, "POST", "/v1/orders/" + order_id + "/cancel", "",
                      {{"X-User-Id", user}});
}

HttpResult get_order(std::uint16_t port, const std::string& user, const std::string& order_id) {
  return http_request(port, "GET", "/v1/orders/" + order_id, "", {{"X-User-Id", user}});
}

nlohmann::json admin_item(std::uint16_t admin_port, const std::string& item) {
  return http_request(admin_port, "GET", "/admin/items/" + item).json();
}

}  // namespace flashsale::test
