// A stand-in payment provider served by the service itself (admin listener, /fake-payments),
// used when payments.provider_url is empty: links point to payments.invalid, refunds are kept
// in memory (the latest 10,000) and listed, so a demo or a test can see them.
#pragma once

#include <memory>

#include "http/router.hpp"

namespace flashsale::payments {

/// POST /fake-payments/links, POST /fake-payments/refunds, GET /fake-payments/refunds.
void add_fake_provider_routes(http::Router& router);

}  // namespace flashsale::payments
