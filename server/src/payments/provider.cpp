// See provider.hpp.
#include "payments/provider.hpp"

#include <nlohmann/json.hpp>

namespace flashsale::payments {

namespace {

http_client::Client parse_url(const std::string& base_url) {
  try {
    return http_client::Client(base_url);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("payment provider URL ") + e.what());
  }
}

}  // namespace

Provider::Provider(const std::string& base_url, std::chrono::milliseconds timeout)
    : client_(parse_url(base_url)), timeout_(timeout) {}

std::string Provider::post(const std::string& path, const std::string& body) const {
  http_client::Response res;
  try {
    res = client_.post(path, body, {}, timeout_);
  } catch (const http_client::NetworkError& e) {
    throw ProviderError("payment provider " + client_.host() + ": " + e.what(), true);
  }
  if (res.status >= 200 && res.status < 300) return std::move(res.body);
  const bool transient = res.status == 429 || res.status >= 500;
  throw ProviderError(
      "payment provider answered " + std::to_string(res.status) + ": " + res.body.substr(0, 200),
      transient);
}

std::string Provider::create_link(const std::string& order_id, const std::string& user_id,
                                  const std::string& item_id) const {
  const auto answer = nlohmann::json::parse(
      post("/links",
           nlohmann::json{{"order_id", order_id}, {"user_id", user_id}, {"item_id", item_id}}
               .dump()),
      nullptr, false);
  if (!answer.is_object() || !answer.contains("url") || !answer["url"].is_string()) {
    throw ProviderError("payment provider: the answer has no \"url\"", false);
  }
  return answer["url"].get<std::string>();
}

void Provider::refund(const std::string& order_id, const std::string& event_id) const {
  post("/refunds", nlohmann::json{{"order_id", order_id}, {"event_id", event_id}}.dump());
}

}  // namespace flashsale::payments
