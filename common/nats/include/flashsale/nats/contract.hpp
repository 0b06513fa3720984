// The event stream's public contract (docs/events.md), shared by the event_stream/nats plugin
// that writes it and `flashsale events tail` that reads it.
#pragma once

namespace flashsale::nats::contract {

inline constexpr const char* kDefaultServers = "nats://127.0.0.1:4222";
inline constexpr const char* kDefaultStream = "FLASHSALE_EVENTS";
inline constexpr const char* kDefaultSubjectPrefix = "flashsale.events";
/// The body's "schema_version": raised only by a change that removes or changes a field.
inline constexpr int kSchemaVersion = 1;
inline constexpr const char* kMsgIdHeader = "Nats-Msg-Id";  ///< = event_id
inline constexpr const char* kTxEventsHeader =
    "Flashsale-Tx-Events";                                           ///< events in its transaction
inline constexpr const char* kCommitHeader = "Flashsale-Commit-Us";  ///< commit time, µs since 1970

}  // namespace flashsale::nats::contract
