// See router.hpp.
#include "http/router.hpp"

#include <algorithm>
#include <cctype>

namespace flashsale::http {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto at = text.find(sep, start);
    const auto end = at == std::string::npos ? text.size() : at;
    if (end > start) out.push_back(text.substr(start, end - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}

bool percent_decode(const std::string& in, std::string& out, bool plus_is_space) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
        return false;
      }
      out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += (plus_is_space && c == '+') ? ' ' : c;
    }
  }
  return true;
}

void Router::add(const std::string& method, const std::string& pattern, Handler handler) {
  routes_.push_back({method, pattern, split(pattern, '/'), std::move(handler), {}, {}});
}

void Router::add_websocket(const std::string& pattern, WebSocketHandler handler,
                           WebSocketCheck check) {
  routes_.push_back(
      {"GET", pattern, split(pattern, '/'), {}, std::move(handler), std::move(check)});
}

Router::Match Router::match(Request& req) const {
  Match result;
  result.route = "unmatched";
  result.status = 404;
  const auto segments = split(req.path, '/');
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (std::size_t i = 0; ok && i < segments.size(); ++i) {
      const auto& want = route.segments[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        std::string value;
        ok = percent_decode(segments[i], value, false) && !value.empty();
        params[want.substr(1, want.size() - 2)] = value;
      } else {
        ok = want == segments[i];
      }
    }
    if (!ok) continue;
    if (route.method != req.method) {
      result.status = 405;
      result.route = route.pattern;
      result.allow += (result.allow.empty() ? "" : ", ") + route.method;
      continue;
    }
    req.params = std::move(params);
    if (route.websocket) {
      return {nullptr, &route.websocket, &route.check, route.pattern, 200, ""};
    }
    return {&route.handler, nullptr, nullptr, route.pattern, 200, ""};
  }
  return result;
}

}  // namespace flashsale::http
