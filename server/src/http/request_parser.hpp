// How the listener reads one HTTP/1.1 request: a Beast parser with the service's limits, and the
// parsed message as handlers see it. Apart from server.cpp so that the fuzz target of fuzz/ runs
// the very same code on its bytes.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>

#include "http/message.hpp"

namespace flashsale::http {

using RawRequest = boost::beast::http::request<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// Headers above this answer 431.
inline constexpr std::size_t kMaxHeaderBytes = std::size_t{16} * 1024;

/// Sets the limits on a fresh parser: kMaxBodyBytes of body, kMaxHeaderBytes of headers.
void limit_request(RequestParser& parser);

/// The parsed request as handlers see it: the target split into path and decoded query, header
/// names in lower case. Sets `bad_query` when a query escape is malformed (the caller answers 400).
Request to_request(RawRequest&& raw, bool& bad_query);

}  // namespace flashsale::http
