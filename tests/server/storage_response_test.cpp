// The one mapping from storage errors to HTTP answers (SPEC §3): every error has its status,
// codes are the SPEC's, 503s say when to retry, and "current" carries the resource as it is.
#include "api/storage_response.hpp"

#include <catch2/catch.hpp>

using namespace flashsale;
using sdk::StorageError;

TEST_CASE("every storage error has its SPEC status and code") {
  const std::vector<std::tuple<StorageError, int, std::string>> cases = {
      {StorageError::bad_request, 400, "bad_request"},
      {StorageError::not_found, 404, "not_found"},
      {StorageError::already_exists, 409, "already_exists"},
      {StorageError::sold_out, 409, "sold_out"},
      {StorageError::sale_not_open, 409, "sale_not_open"},
      {StorageError::sale_closed, 409, "sale_closed"},
      {StorageError::sale_paused, 409, "sale_paused"},
      {StorageError::limit_exceeded, 409, "limit_exceeded"},
      {StorageError::invalid_transition, 409, "invalid_transition"},
      {StorageError::duplicate, 409, "duplicate"},
      {StorageError::idempotency_mismatch, 422, "idempotency_mismatch"},
      {StorageError::overloaded, 503, "overloaded"},
      {StorageError::unavailable, 503, "unavailable"},
      {StorageError::internal, 500, "internal"},
  };
  CHECK(cases.size() == static_cast<std::size_t>(StorageError::internal));  // all but none
  for (const auto& [error, status, code] : cases) {
    INFO(code);
    CHECK(sdk::code(error) == code);
    CHECK(sdk::storage_error(code) == error);
    const auto r = api::storage_response({error, "why", ""}, 200);
    CHECK(r.status == status);
    const auto body = nlohmann::json::parse(r.body);
    CHECK(body["error"] == code);
    CHECK(body["message"] == "why");
    const bool retry_after = std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
      return h.first == "Retry-After" && h.second == "1";
    });
    CHECK(retry_after == (status == 503));
  }
  CHECK_FALSE(sdk::storage_error("teleported").has_value());
  CHECK(sdk::storage_error("") == StorageError::none);
}

TEST_CASE("success answers the body with the caller's status; an error may say what is now") {
  const auto ok = api::storage_response({StorageError::none, "", R"({"id":"x"})"}, 202);
  CHECK(ok.status == 202);
  CHECK(ok.body == R"({"id":"x"})");
  const auto conflict = api::storage_response(
      {StorageError::invalid_transition, "the order is cancelled", R"({"status":"cancelled"})"},
      200);
  CHECK(nlohmann::json::parse(conflict.body)["current"]["status"] == "cancelled");
}
