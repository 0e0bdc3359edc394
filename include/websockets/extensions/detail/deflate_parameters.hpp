// The four parameters of permessage-deflate (RFC 7692 section 7.1), read
// from and written to the parameter list of one offer or one response.
#pragma once

#include <string>
#include <string_view>

#include "websockets/exceptions.hpp"
#include "websockets/extension_header.hpp"

namespace websockets::detail {

inline constexpr std::string_view permessage_deflate_name = "permessage-deflate";

// One offer or response, as written in the header. A window size of 0 means
// the parameter is absent (plain ints rather than std::optional: GCC 12
// warns about copying a disengaged std::optional<int>).
struct deflate_parameters {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 0;
  int client_max_window_bits = 0;
  // client_max_window_bits without a value: "I can limit my window, tell
  // me how much". Only an offer may say this.
  bool client_max_window_bits_bare = false;
};

// "8" to "15": a decimal integer without leading zeros (RFC 7692 7.1.2).
// Returns 0 for anything else.
inline int parse_window_bits(std::string_view s) noexcept {
  if (s.size() == 1 && s[0] >= '8' && s[0] <= '9') return s[0] - '0';
  if (s.size() == 2 && s[0] == '1' && s[1] >= '0' && s[1] <= '5') return 10 + (s[1] - '0');
  return 0;
}

// Reads an offer (`in_offer`) or a response. Throws duplicate_parameter for a
// parameter given twice, invalid_parameter_name for one RFC 7692 doesn't
// define, and invalid_parameter_value for a value that isn't allowed: any
// value on the *_no_context_takeover flags, a window size outside 8..15, or
// a value-less client_max_window_bits in a response.
inline deflate_parameters parse_deflate_parameters(const extension_parameters& params,
                                                   bool in_offer) {
  deflate_parameters p;
  bool seen_client_bits = false;
  for (const auto& [name, value] : params) {
    if (name == "server_no_context_takeover" || name == "client_no_context_takeover") {
      bool& flag = name[0] == 's' ? p.server_no_context_takeover : p.client_no_context_takeover;
      if (flag) throw duplicate_parameter(name);
      if (value) throw invalid_parameter_value(name, value);
      flag = true;
    } else if (name == "server_max_window_bits") {
      if (p.server_max_window_bits) throw duplicate_parameter(name);
      const int bits = value ? parse_window_bits(*value) : 0;
      if (!bits) throw invalid_parameter_value(name, value);
      p.server_max_window_bits = bits;
    } else if (name == "client_max_window_bits") {
      if (seen_client_bits) throw duplicate_parameter(name);
      seen_client_bits = true;
      if (!value && in_offer) {
        p.client_max_window_bits_bare = true;
        continue;
      }
      const int bits = value ? parse_window_bits(*value) : 0;
      if (!bits) throw invalid_parameter_value(name, value);
      p.client_max_window_bits = bits;
    } else {
      throw invalid_parameter_name(name);
    }
  }
  return p;
}

// Writes parameters in the order RFC 7692 lists them.
inline extension_parameters build_deflate_parameters(const deflate_parameters& p) {
  extension_parameters out;
  if (p.server_no_context_takeover) out.emplace_back("server_no_context_takeover", std::nullopt);
  if (p.client_no_context_takeover) out.emplace_back("client_no_context_takeover", std::nullopt);
  if (p.server_max_window_bits)
    out.emplace_back("server_max_window_bits", std::to_string(p.server_max_window_bits));
  if (p.client_max_window_bits)
    out.emplace_back("client_max_window_bits", std::to_string(p.client_max_window_bits));
  else if (p.client_max_window_bits_bare)
    out.emplace_back("client_max_window_bits", std::nullopt);
  return out;
}

}  // namespace websockets::detail
