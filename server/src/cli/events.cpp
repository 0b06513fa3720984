// See events.hpp.
#include "cli/events.hpp"

#include <atomic>
#include <csignal>
#include <flashsale/nats/client.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

namespace flashsale::cli {
namespace {

std::atomic<bool> interrupted{false};
extern "C" void on_signal(int /*signal*/) { interrupted = true; }

constexpr int64_t kPollMs = 200;  // longest wait for a message before a signal is looked at

}  // namespace

int events_tail(const EventsOptions& options) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    const nats::Connection conn(options.servers, "flashsale-events-tail", true);
    const std::string subjects =
        options.subject_prefix + "." + (options.item.empty() ? ">" : options.item + ".>");
    const auto sub = nats::ordered_consumer(conn, options.stream, subjects, options.since);
    std::cerr << "flashsale events: following " << options.stream << " (" << subjects << ") on "
              << conn.server() << (options.since == 0 ? ", new events only" : "") << "\n";
    long long printed = 0;
    while (!interrupted && (!options.count || printed < *options.count)) {
      natsMsg* raw = nullptr;
      const natsStatus s = natsSubscription_NextMsg(&raw, sub.get(), kPollMs);
      if (s == NATS_TIMEOUT) continue;
      nats::check(s, "reading stream " + options.stream);
      const nats::Msg msg = nats::own(raw);
      const std::string_view body(natsMsg_GetData(raw),
                                  static_cast<std::size_t>(natsMsg_GetDataLength(raw)));
      auto line = nlohmann::json::parse(body, nullptr, false);
      if (!line.is_object()) line = {{"subject", natsMsg_GetSubject(raw)}, {"body", body}};
      line["seq"] = nats::stream_sequence(raw);
      std::cout << line.dump() << "\n" << std::flush;
      ++printed;
    }
    return 0;
  } catch (const nats::Error& e) {
    std::cerr << "flashsale events: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace flashsale::cli
