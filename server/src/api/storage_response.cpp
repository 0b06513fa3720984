// See storage_response.hpp.
#include "api/storage_response.hpp"

#include <map>

namespace flashsale::api {

http::Response storage_response(const sdk::StorageResult& result, int ok_status) {
  if (result.error.empty()) {
    http::Response r;
    r.status = ok_status;
    r.body = result.body;
    return r;
  }
  static const std::map<std::string, int> statuses = {
      {"bad_request", 400}, {"not_found", 404},   {"idempotency_mismatch", 422},
      {"overloaded", 503},  {"unavailable", 503},
  };
  const auto it = statuses.find(result.error);
  const int status = it == statuses.end() ? 409 : it->second;  // every other code is a conflict
  nlohmann::json body = {{"error", result.error}, {"message", result.message}};
  if (!result.body.empty()) {
    auto current = nlohmann::json::parse(result.body, nullptr, false);
    if (!current.is_discarded()) body["current"] = std::move(current);
  }
  auto response = http::json_response(status, body);
  if (status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace flashsale::api
