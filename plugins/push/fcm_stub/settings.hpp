// The settings of the fcm_stub push channel (`plugin.fcm_stub`), strictly validated.
#pragma once

#include <flashsale/sdk/host_context.hpp>
#include <string>

namespace flashsale::plugins::fcm_stub {

struct Settings {
  std::string endpoint;  ///< base URL of the FCM API, http://HOST[:PORT][/PATH]
  std::string project_id = "flashsale-demo";  ///< the Firebase project: /v1/projects/{id}/...
  std::string access_token;                   ///< sent as `Authorization: Bearer`; empty: none
  int timeout_ms = 1000;                      ///< deadline of one send (one token)
  int ttl_s = 600;  ///< how long FCM/APNs keep a message for an offline device (0: now or never)
};

/// Reads `plugin.fcm_stub`; throws std::invalid_argument naming an unknown key, a missing
/// `endpoint` or a bad value.
Settings parse_settings(const sdk::HostContext& host);

}  // namespace flashsale::plugins::fcm_stub
