// The admin API, /admin (SPEC §4): items, restock, pause, the waiting line, leases, and
// ending a lease by hand. Served on the admin listener only.
#pragma once

#include "http/router.hpp"

namespace flashsale {
class WorkerPool;
namespace sdk {
inline namespace v1 {
class Storage;
}
}  // namespace sdk
}  // namespace flashsale

namespace flashsale::api {

void add_admin_routes(http::Router& router, sdk::Storage& storage, WorkerPool& workers);

}  // namespace flashsale::api
