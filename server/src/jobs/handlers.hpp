// The job handlers of the slow path: they carry out what the planner (and the payment webhook)
// enqueued, through the storage plugin and the payment provider. Every handler tolerates
// running twice.
#pragma once

#include <flashsale/sdk/scheduler.hpp>
#include <flashsale/sdk/storage.hpp>

#include "payments/provider.hpp"

namespace prometheus {
class Registry;
}

namespace flashsale::jobs {

/// Registers the handlers of expire_leases, make_payment_link, refund and close_sale.
void register_handlers(sdk::Scheduler& scheduler, sdk::Storage& storage,
                       const payments::Provider& provider, prometheus::Registry& metrics);

}  // namespace flashsale::jobs
