// See message.hpp.
#include "http/message.hpp"

#include <algorithm>
#include <cctype>

namespace flashsale::http {

std::string Request::header(std::string name) const {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

Response json_response(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response error_response(int status, const std::string& code, const std::string& message) {
  return json_response(status, {{"error", code}, {"message", message}});
}

std::optional<nlohmann::json> parse_json_object(const Request& req, Response& error) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    error = error_response(400, "bad_request", "the body is not valid JSON");
    return std::nullopt;
  }
  if (!body.is_object()) {
    error = error_response(400, "bad_request", "the body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

}  // namespace flashsale::http
