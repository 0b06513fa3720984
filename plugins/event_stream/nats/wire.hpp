// How a domain event travels in the stream (docs/events.md): subject
// "<prefix>.<item_id>.<type>", header Nats-Msg-Id = event_id (JetStream drops a second copy
// within its duplicate window), the SPEC §5 envelope with "schema_version" as the body, and two
// headers for flashsale's own replicas: the transaction's event count and its commit time.
#pragma once

#include <cstdint>
#include <flashsale/nats/contract.hpp>
#include <flashsale/sdk/events.hpp>
#include <optional>
#include <string>

namespace flashsale::plugins::nats {

using namespace flashsale::nats::contract;

/// "<prefix>.<item_id>.<type>", e.g. flashsale.events.sneakers.order.reserved.
std::string subject(const std::string& prefix, const sdk::Event& event);
/// The message body: the envelope with schema_version.
std::string body(const sdk::Event& event);
/// The event a body carries; nullopt for a body that is not one (wrong JSON, a newer schema).
std::optional<sdk::Event> parse_body(std::string_view body);

}  // namespace flashsale::plugins::nats
