// The admin API, /admin (SPEC §4): items, restock, pause, the waiting line, leases, and
// ending a lease by hand. Served on the admin listener only.
#pragma once

#include <flashsale/sdk/storage.hpp>

#include "http/router.hpp"
#include "worker_pool.hpp"

namespace flashsale::api {

void add_admin_routes(http::Router& router, sdk::Storage& storage, WorkerPool& workers);

}  // namespace flashsale::api
