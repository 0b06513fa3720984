// See settings.hpp.
#include "settings.hpp"

#include <flashsale/http_client.hpp>
#include <regex>
#include <stdexcept>

namespace flashsale::plugins::fcm_stub {

namespace {

const std::string kPrefix = "plugin.fcm_stub.";

std::string string_value(const std::string& key, const nlohmann::json& value) {
  if (!value.is_string()) throw std::invalid_argument(kPrefix + key + " must be a string");
  return value.get<std::string>();
}

int int_value(const std::string& key, const nlohmann::json& value, long long min, long long max) {
  if (!value.is_number_integer() || value.get<long long>() < min || value.get<long long>() > max) {
    throw std::invalid_argument(kPrefix + key + " must be an integer from " + std::to_string(min) +
                                " to " + std::to_string(max));
  }
  return value.get<int>();
}

}  // namespace

Settings parse_settings(const nlohmann::json& config) {
  if (!config.is_object()) throw std::invalid_argument("plugin.fcm_stub must be an object");
  Settings s;
  bool has_endpoint = false;
  for (const auto& [key, value] : config.items()) {
    if (key == "endpoint") {
      s.endpoint = string_value(key, value);
      try {
        (void)http_client::Client(s.endpoint);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(kPrefix + key + " " + e.what());
      }
      has_endpoint = true;
    } else if (key == "project_id") {
      s.project_id = string_value(key, value);
      // It becomes a path segment: keep to characters that need no escaping.
      static const std::regex id(R"([A-Za-z0-9][A-Za-z0-9._:-]{0,127})");
      if (!std::regex_match(s.project_id, id)) {
        throw std::invalid_argument(kPrefix + key +
                                    " must be a Firebase project id (letters, digits, '-', '.', "
                                    "'_', ':'; at most 128)");
      }
    } else if (key == "access_token") {
      s.access_token = string_value(key, value);
      for (const char c : s.access_token) {
        if (c <= ' ' || c > '~') {
          throw std::invalid_argument(kPrefix + key +
                                      " must be printable ASCII without spaces (an OAuth 2.0 "
                                      "access token)");
        }
      }
    } else if (key == "timeout_ms") {
      s.timeout_ms = int_value(key, value, 1, 600'000);
    } else if (key == "ttl_s") {
      s.ttl_s = int_value(key, value, 0, 2'419'200);  // FCM's limit: 4 weeks
    } else {
      throw std::invalid_argument("unknown key plugin.fcm_stub." + key);
    }
  }
  if (!has_endpoint) {
    throw std::invalid_argument(kPrefix +
                                "endpoint is required: the FCM API's base URL, e.g. "
                                "http://127.0.0.1:9099");
  }
  return s;
}

}  // namespace flashsale::plugins::fcm_stub
