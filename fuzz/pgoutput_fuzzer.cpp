// Fuzz target: a logical replication session as the pg_wal reader gets it, each CopyData buffer
// split (parse_copy_data), decoded (decode) and fed to the event mapper. The input is a sequence
// of frames, each a 2-byte big-endian length and that many bytes (the last one may be short). A
// malformed frame or an out-of-order stream must be refused with DecodeError, which ends the
// session (the reader reconnects with a fresh mapper); anything else escaping is a defect. A
// finished transaction's events must carry its commit position.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "event_mapper.hpp"
#include "pgoutput.hpp"

namespace {

using namespace flashsale::plugins::pg_wal;

[[noreturn]] void defect(const std::string& what) {
  std::fprintf(stderr, "defect: %s\n", what.c_str());
  std::abort();
}

void check_batch(const Commit& commit, const flashsale::sdk::EventBatch& batch) {
  const std::string lsn = format_lsn(commit.commit_lsn);
  if (parse_lsn(lsn) != commit.commit_lsn) defect("format_lsn does not round-trip: " + lsn);
  if (batch.end_lsn != commit.end_lsn) defect("batch end_lsn differs from its Commit's");
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    const auto& e = batch.events[i];
    if (e.lsn != lsn || e.event_id != lsn + "/" + std::to_string(i)) {
      defect("event " + e.event_id + " of commit " + lsn);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  EventMapper mapper;
  while (input.size() >= 2) {
    const std::size_t length =
        (static_cast<std::uint8_t>(input[0]) << 8) | static_cast<std::uint8_t>(input[1]);
    const std::string_view frame = input.substr(2, length);
    input.remove_prefix(2 + frame.size());
    try {
      const auto copy = parse_copy_data(frame);
      const auto* x = std::get_if<XLogData>(&copy);
      if (!x) continue;
      const Message message = decode(x->payload);
      if (auto batch = mapper.feed(message)) check_batch(std::get<Commit>(message), *batch);
    } catch (const DecodeError&) {
      mapper.reset();
    }
  }
  return 0;
}
