// The admin API, /admin (SPEC §4): items, restock, pause, the waiting line, leases, and
// ending a lease by hand. Served on the admin listener only.
#pragma once

#include <flashsale/sdk/scheduler.hpp>
#include <flashsale/sdk/storage.hpp>

#include "api/activity_rates.hpp"
#include "api/placement_rates.hpp"
#include "http/router.hpp"
#include "worker_pool.hpp"

namespace flashsale::api {

/// Items, orders, each item's placement rates (from `rates`), the events per second (from
/// `activity`), and (when `scheduler` is not null) GET /admin/jobs, POST /admin/jobs/{id}/retry.
void add_admin_routes(http::Router& router, sdk::Storage& storage, sdk::Scheduler* scheduler,
                      WorkerPool& workers, const PlacementRates& rates,
                      const ActivityRates& activity);

}  // namespace flashsale::api
