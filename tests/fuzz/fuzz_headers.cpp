// Fuzzing of the header parsers and builders (include/websockets/headers.hpp).
//
// Input: a byte that picks what runs (its value modulo 7: the Connection,
// Upgrade, Sec-WebSocket-Extensions, Sec-WebSocket-Protocol or
// Authorization parser, the header checks, or the `headers` container),
// then one header value. A parser may refuse it only with
// invalid_header_format (invalid_header_value for Authorization) naming the
// header, the value and a position inside it; what it accepts is made of
// tokens, and building it back and parsing that again gives the same.
//
// One check per input, not all seven: each refusal is an exception, which
// costs microseconds under ASan, and seven of them per input held the
// target to a few thousand inputs a second.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "websockets/headers.hpp"

namespace {

namespace ws = websockets;

// RFC 7230 tchar, written out independently of the library.
FUZZ_NO_COVERAGE bool is_token(std::string_view s) {
  static constexpr std::string_view tchar =
      "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  if (s.empty()) return false;
  for (char c : s)
    if (tchar.find(c) == std::string_view::npos) return false;
  return true;
}

FUZZ_NO_COVERAGE bool has_control(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return true;
  }
  return false;
}

FUZZ_NO_COVERAGE std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

// Runs one parser: a refusal must be an invalid_header_format about this
// header and this value; an acceptance goes to `check`.
template <class Parse, class Check>
void run(std::string_view header, std::string_view value, Parse parse, Check check) {
  using result = decltype(parse(value));
  std::optional<result> parsed;
  try {
    parsed.emplace(parse(value));
  } catch (const ws::invalid_header_format& e) {
    FUZZ_CHECK(e.name() == header, std::string(header) + ": the error names " + e.name());
    FUZZ_CHECK(e.string() == value, std::string(header) + ": the error quotes " +
                                        fuzz::quote(e.string()) + " for " + fuzz::quote(value));
    FUZZ_CHECK(e.pos() <= value.size(), std::string(header) + ": position " +
                                            std::to_string(e.pos()) + " in " + fuzz::quote(value));
    return;
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }
  try {
    check(*parsed);
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }
}

void check_connection(std::string_view value) {
  run("Connection", value, ws::parse_connection, [&](const std::vector<std::string>& options) {
    FUZZ_CHECK(!options.empty(), fuzz::quote(value));
    for (const auto& o : options) FUZZ_CHECK(is_token(o), fuzz::quote(o));
    // The same list written differently parses the same.
    FUZZ_CHECK(ws::parse_connection(join(options, ", ")) == options, fuzz::quote(value));
    FUZZ_CHECK(ws::parse_connection(" ,\t" + join(options, " ,, ") + ",") == options,
               fuzz::quote(value));
  });
}

void check_upgrade(std::string_view value) {
  run("Upgrade", value, ws::parse_upgrade, [&](const std::vector<std::string>& protocols) {
    FUZZ_CHECK(!protocols.empty(), fuzz::quote(value));
    for (const auto& p : protocols) {
      const auto slash = p.find('/');
      const bool ok = slash == std::string::npos
                          ? is_token(p)
                          : is_token(p.substr(0, slash)) && is_token(p.substr(slash + 1));
      FUZZ_CHECK(ok, fuzz::quote(p) + " from " + fuzz::quote(value));
    }
    FUZZ_CHECK(ws::parse_upgrade(join(protocols, ", ")) == protocols, fuzz::quote(value));
  });
}

void check_extensions(std::string_view value) {
  run("Sec-WebSocket-Extensions", value, ws::parse_extension_list,
      [&](const std::vector<ws::extension_header>& list) {
        FUZZ_CHECK(!list.empty(), fuzz::quote(value));
        for (const auto& e : list) {
          FUZZ_CHECK(is_token(e.name), fuzz::quote(e.name) + " from " + fuzz::quote(value));
          for (const auto& [name, v] : e.params) {
            FUZZ_CHECK(is_token(name), fuzz::quote(name) + " from " + fuzz::quote(value));
            FUZZ_CHECK(!v || is_token(*v), fuzz::quote(*v) + " from " + fuzz::quote(value));
          }
        }
        const std::string built = ws::build_extension_list(list);
        FUZZ_CHECK(ws::parse_extension_list(built) == list,
                   fuzz::quote(value) + " built as " + fuzz::quote(built));
      });
}

void check_subprotocols(std::string_view value) {
  run("Sec-WebSocket-Protocol", value, ws::parse_subprotocol_list,
      [&](const std::vector<std::string>& list) {
        FUZZ_CHECK(!list.empty(), fuzz::quote(value));
        for (const auto& p : list) FUZZ_CHECK(is_token(p), fuzz::quote(p));
        const std::string built = ws::build_subprotocol_list(list);
        FUZZ_CHECK(ws::parse_subprotocol_list(built) == list,
                   fuzz::quote(value) + " built as " + fuzz::quote(built));
      });
}

void check_authorization(std::string_view value) {
  std::pair<std::string, std::string> credentials;
  try {
    credentials = ws::parse_authorization_basic(value);
  } catch (const ws::invalid_header& e) {
    // invalid_header_format or invalid_header_value, both about this header.
    FUZZ_CHECK(e.name() == "Authorization", "the error names " + e.name());
    return;
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }
  FUZZ_CHECK(credentials.first.find(':') == std::string::npos, fuzz::quote(value));
  const std::string built = ws::build_authorization_basic(credentials.first, credentials.second);
  FUZZ_CHECK(ws::parse_authorization_basic(built) == credentials,
             fuzz::quote(value) + " built as " + fuzz::quote(built));
}

void check_field_checks(std::string_view value) {
  const bool control = has_control(value);
  bool refused = false;
  try {
    ws::check_header_value("X-Fuzz", value);
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  FUZZ_CHECK(refused == control, fuzz::quote(value));

  refused = false;
  try {
    ws::check_header_name(value);
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  FUZZ_CHECK(refused == !is_token(value), fuzz::quote(value));

  // A realm goes in a quoted string: refused with control characters,
  // otherwise a valid field value.
  refused = false;
  std::string challenge;
  try {
    challenge = ws::build_www_authenticate_basic(value);
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  FUZZ_CHECK(refused == control, fuzz::quote(value));
  FUZZ_CHECK(refused || !has_control(challenge), fuzz::quote(challenge));

  // Error messages quote untrusted text: printable ASCII only, bounded.
  const std::string shown = ws::detail::printable(value);
  for (char c : shown) {
    const auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u >= 0x20 && u < 0x7f, fuzz::quote(shown));
  }
  FUZZ_CHECK(shown.size() <= 2 + 4 * 200 + 3, fuzz::quote(shown));
}

// The `headers` container against a plain list: the value is cut into
// names and values, added, set and erased as its bytes say (32 operations
// at most: enough to make names collide, few enough to keep runs fast).
// operator[]'s refusals (none or several values) are exceptions: checked
// after the last operation only, its answer for one value after each.
void check_container(std::string_view value) {
  fuzz::reader r(value);
  ws::headers h;
  std::vector<std::pair<std::string, std::string>> model;
  const auto lower = [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  };
  const auto same = [&](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (lower(a[i]) != lower(b[i])) return false;
    return true;
  };
  for (int ops = 0; ops < 32 && !r.empty(); ++ops) {
    const std::uint8_t op = r.byte();
    const std::string name(r.bytes(op >> 5));  // 0 to 7 bytes: names collide often
    const std::string val(r.bytes(r.byte() % 8));
    switch (op % 4) {
      case 0:
      case 1:
        h.add(name, val);
        model.emplace_back(name, val);
        break;
      case 2: {
        h.set(name, val);
        std::erase_if(model, [&](const auto& f) { return same(f.first, name); });
        model.emplace_back(name, val);
        break;
      }
      case 3: {
        const std::size_t erased = h.erase(name);
        const std::size_t expected =
            std::erase_if(model, [&](const auto& f) { return same(f.first, name); });
        FUZZ_CHECK(erased == expected, fuzz::quote(name));
        break;
      }
    }
    FUZZ_CHECK(h.size() == model.size(), fuzz::quote(value));
    std::vector<std::string_view> values;
    for (const auto& [n, v] : model)
      if (same(n, name)) values.push_back(v);
    FUZZ_CHECK(h.get_all(name) == values, fuzz::quote(name));
    FUZZ_CHECK(h.count(name) == values.size(), fuzz::quote(name));
    FUZZ_CHECK(h.contains(name) == !values.empty(), fuzz::quote(name));
    FUZZ_CHECK(h.get(name) == (values.empty() ? std::nullopt : std::optional(values.front())),
               fuzz::quote(name));
    const bool last = ops == 31 || r.empty();
    if (values.size() != 1 && !last) continue;
    try {
      const std::string& one = h[name];
      FUZZ_CHECK(values.size() == 1 && one == values.front(), fuzz::quote(name));
    } catch (const ws::multiple_values_error& e) {
      FUZZ_CHECK(values.size() > 1 && e.name() == name, fuzz::quote(name));
    } catch (const std::out_of_range&) {
      FUZZ_CHECK(values.empty(), fuzz::quote(name));
    }
  }
  FUZZ_CHECK(std::equal(h.begin(), h.end(), model.begin(), model.end()), fuzz::quote(value));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::reader in(data, size);
  const std::uint8_t choice = in.byte();
  const std::string_view value = in.rest();
  switch (choice % 7) {
    case 0:
      check_connection(value);
      break;
    case 1:
      check_upgrade(value);
      break;
    case 2:
      check_extensions(value);
      break;
    case 3:
      check_subprotocols(value);
      break;
    case 4:
      check_authorization(value);
      break;
    default:
      try {
        if (choice % 7 == 5) {
          check_field_checks(value);
        } else {
          check_container(value);
        }
      } catch (const std::exception& e) {
        fuzz::unexpected(__FILE__, __LINE__, e);
      }
      break;
  }
  return 0;
}
