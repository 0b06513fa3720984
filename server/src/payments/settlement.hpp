// What a payment provider's callback settles: the payment is recorded against its order, and a
// payment that came too late (the order no longer reserved) gets its refund planned as a job.
#pragma once

#include <flashsale/sdk/scheduler.hpp>
#include <flashsale/sdk/storage.hpp>
#include <string>

namespace flashsale::payments {

/// Records payment event `event_id` of `order_id` (Storage::record_payment) and, when its
/// result is refund_required, enqueues the refund (keyed by the event, so also on a duplicate
/// callback: a provider retrying after a failed enqueue still gets its money back, once).
/// `scheduler` may be null (no refund can be planned). Blocking; throws if the enqueue fails.
sdk::StorageResult settle(sdk::Storage& storage, sdk::Scheduler* scheduler,
                          const std::string& event_id, const std::string& order_id, bool succeeded);

}  // namespace flashsale::payments
