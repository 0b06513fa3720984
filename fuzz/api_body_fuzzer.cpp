// Fuzz target: the JSON body of every route that takes one, checked by the real handlers. Byte 0
// picks the route (byte 0 % 5) and what the storage answers (byte 0 / 5 % 5); the rest is the
// body. A body the handler refuses must be answered 400 without reaching the storage; one it
// takes must reach the storage with values the API's rules allow (the checking storage); no
// body may make a handler fail (500).
#include <cstddef>
#include <cstdint>
#include <string>

#include "api_harness.hpp"

namespace {

using namespace flashsale;

struct Route {
  bool admin;
  const char* method;
  const char* path;
};

constexpr Route kRoutes[] = {
    {true, "POST", "/admin/items"},
    {true, "PATCH", "/admin/items/sku-1"},
    {false, "POST", "/v1/items/sku-1/orders"},
    {false, "POST", "/v1/devices"},
    {false, "POST", "/v1/payments/webhook"},
};
constexpr std::size_t kRouteCount = std::size(kRoutes);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::Api api("");  // no webhook secret: the webhook's body is checked unsigned
  if (size == 0) return 0;
  const Route& route = kRoutes[data[0] % kRouteCount];
  api.storage.outcome = static_cast<fuzz::Outcome>(data[0] / kRouteCount % 5);
  http::Request req;
  req.method = route.method;
  req.path = route.path;
  req.headers = {{"x-user-id", "user-1"}, {"idempotency-key", "key-1"}};
  req.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);

  const int calls_before = api.storage.calls;
  api.scheduler.enqueued.clear();
  const auto response = api.serve(route.admin ? api.admin_routes : api.public_routes, req, false);
  const bool stored = api.storage.calls != calls_before;
  if (response.status == 500) fuzz::defect("a body made the handler fail: " + response.body);
  if (!stored && response.status != 400) {
    fuzz::defect("a body was neither refused nor stored: " + std::to_string(response.status));
  }
  if (stored && response.status == 400) fuzz::defect("a body was refused after it was stored");
  // A payment that came too late gets exactly one refund planned; nothing else plans any.
  const bool refund = stored && route.path == std::string("/v1/payments/webhook") &&
                      api.storage.outcome == fuzz::Outcome::refund_required;
  if (api.scheduler.enqueued.size() != (refund ? 1U : 0U)) {
    fuzz::defect("refund jobs planned: " + std::to_string(api.scheduler.enqueued.size()));
  }
  return 0;
}
