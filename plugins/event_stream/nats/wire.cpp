// See wire.hpp.
#include "wire.hpp"

#include <nlohmann/json.hpp>

namespace flashsale::plugins::nats {

std::string subject(const std::string& prefix, const sdk::Event& event) {
  return prefix + "." + event.item_id + "." + event.type;
}

std::string body(const sdk::Event& event) {
  nlohmann::json j = event.to_json();
  j["schema_version"] = kSchemaVersion;
  return j.dump();
}

std::optional<sdk::Event> parse_body(std::string_view body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || j.value("schema_version", 0) != kSchemaVersion) return std::nullopt;
  const auto text = [&](const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  sdk::Event e;
  e.event_id = text("event_id");
  e.type = text("type");
  e.lsn = text("lsn");
  e.committed_at = text("committed_at");
  e.item_id = text("item_id");
  e.order_id = text("order_id");
  e.user_id = text("user_id");
  if (const auto it = j.find("data"); it != j.end() && it->is_object()) e.data = *it;
  if (!sdk::parse_event_id(e.event_id) || !sdk::parse_lsn(e.lsn) || e.type.empty()) {
    return std::nullopt;
  }
  return e;
}

}  // namespace flashsale::plugins::nats
