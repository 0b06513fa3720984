// Turns what the storage plugin answered into an HTTP response (SPEC §3 codes and statuses).
#pragma once

#include <flashsale/sdk/storage.hpp>

#include "http/message.hpp"

namespace flashsale::api {

/// The HTTP status of a storage error (200 for none): one mapping, exhaustive.
int http_status(sdk::StorageError error);

/// Success: `ok_status` with the storage body. Errors: the SPEC status for the code, the body
/// {"error","message"}, plus the resource as it is under "current" when storage gave one.
http::Response storage_response(const sdk::StorageResult& result, int ok_status);

}  // namespace flashsale::api
