// See storage_response.hpp.
#include "api/storage_response.hpp"

namespace flashsale::api {

int http_status(sdk::StorageError error) {
  using E = sdk::StorageError;
  // No default: a new error without a status does not compile (-Wswitch, an error in CI).
  switch (error) {
    case E::none:
      return 200;
    case E::bad_request:
      return 400;
    case E::not_found:
      return 404;
    case E::already_exists:
    case E::sold_out:
    case E::sale_not_open:
    case E::sale_closed:
    case E::sale_paused:
    case E::limit_exceeded:
    case E::invalid_transition:
    case E::duplicate:
      return 409;
    case E::idempotency_mismatch:
      return 422;
    case E::overloaded:
    case E::unavailable:
      return 503;
    case E::internal:
      return 500;
  }
  return 500;
}

http::Response storage_response(const sdk::StorageResult& result, int ok_status) {
  if (result.ok()) {
    http::Response r;
    r.status = ok_status;
    r.body = result.body;
    return r;
  }
  const int status = http_status(result.error);
  nlohmann::json body = {{"error", std::string(sdk::code(result.error))},
                         {"message", result.message}};
  if (!result.body.empty()) {
    auto current = nlohmann::json::parse(result.body, nullptr, false);
    if (!current.is_discarded()) body["current"] = std::move(current);
  }
  auto response = http::json_response(status, body);
  if (status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace flashsale::api
