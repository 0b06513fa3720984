// The public API, /v1 (SPEC §3): orders and items as one user sees them, behind the gateway.
#pragma once

#include <flashsale/sdk/scheduler.hpp>
#include <flashsale/sdk/storage.hpp>
#include <flashsale/sdk/websocket.hpp>
#include <string>
#include <vector>

#include "api/placement_rates.hpp"
#include "http/router.hpp"
#include "worker_pool.hpp"

namespace flashsale::api {

struct PublicApiOptions {
  std::string identity_header;  ///< header with the gateway-verified user id
  std::string webhook_secret;   ///< HMAC-SHA256 key for X-Signature; empty: not checked
};

/// `scheduler` (may be null) receives the refund jobs of late payments; every answered placement
/// is counted in `rates`.
void add_public_routes(http::Router& router, sdk::Storage& storage, sdk::Scheduler* scheduler,
                       WorkerPool& workers, PlacementRates& rates, const PublicApiOptions& options);

/// Serves the plugins' WebSocket routes for identified users (HostContext::add_user_stream);
/// `routes` must outlive the router.
void add_user_streams(http::Router& router, const std::vector<sdk::UserStreamRoute>& routes,
                      const std::string& identity_header);

}  // namespace flashsale::api
