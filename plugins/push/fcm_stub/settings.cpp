// See settings.hpp.
#include "settings.hpp"

#include <flashsale/http_client.hpp>
#include <flashsale/sdk/settings.hpp>
#include <stdexcept>

namespace flashsale::plugins::fcm_stub {

Settings parse_settings(const sdk::HostContext& host) {
  sdk::Settings in(host);
  Settings s;
  s.endpoint = in.required_text("endpoint", "the FCM API's base URL, e.g. http://127.0.0.1:9099",
                                [](const std::string& url) -> std::string {
                                  try {
                                    (void)http_client::Client(url);
                                    return {};
                                  } catch (const std::invalid_argument& e) {
                                    return e.what();
                                  }
                                });
  // It becomes a path segment: keep to characters that need no escaping.
  s.project_id = in.text("project_id", s.project_id,
                         sdk::Settings::matching(R"([A-Za-z0-9][A-Za-z0-9._:-]{0,127})",
                                                 "must be a Firebase project id (letters, digits, "
                                                 "'-', '.', '_', ':'; at most 128)"));
  s.access_token = in.text("access_token", "", [](const std::string& token) -> std::string {
    for (const char c : token) {
      if (c <= ' ' || c > '~') {
        return "must be printable ASCII without spaces (an OAuth 2.0 access token)";
      }
    }
    return {};
  });
  s.timeout_ms = in.integer("timeout_ms", s.timeout_ms, 1, 600'000);
  s.ttl_s = in.integer("ttl_s", s.ttl_s, 0, 2'419'200);  // FCM's limit: 4 weeks
  in.done();
  return s;
}

}  // namespace flashsale::plugins::fcm_stub
