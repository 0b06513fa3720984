// See request_parser.hpp.
#include "http/request_parser.hpp"

#include <cctype>

#include "http/router.hpp"

namespace flashsale::http {

void limit_request(RequestParser& parser) {
  parser.body_limit(kMaxBodyBytes);
  parser.header_limit(kMaxHeaderBytes);
}

Request to_request(RawRequest&& raw, bool& bad_query) {
  Request req;
  req.method = std::string(raw.method_string());
  const std::string target(raw.target());
  const auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) {
    for (const auto& pair : split(target.substr(q + 1), '&')) {
      std::string key, value;
      const auto eq = pair.find('=');
      if (!percent_decode(pair.substr(0, eq), key, true) ||
          !percent_decode(eq == std::string::npos ? "" : pair.substr(eq + 1), value, true)) {
        bad_query = true;
      }
      req.query[key] = value;
    }
  }
  for (const auto& field : raw) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (req.headers.count(name)) req.repeated_headers.insert(name);
    req.headers[name] = std::string(field.value());
  }
  req.body = std::move(raw.body());
  return req;
}

}  // namespace flashsale::http
