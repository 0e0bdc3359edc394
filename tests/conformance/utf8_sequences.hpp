// UTF-8 for the 6.x cases: a validator of the driver's own (RFC 3629,
// independent of the library's) and the byte sequences of Autobahn's
// cases 6.5 to 6.23, grouped as its case list groups them (after Markus
// Kuhn's UTF-8 decoder stress test), each with whether it is valid UTF-8.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace websockets::conformance {

// Whether `s` is well-formed UTF-8 (RFC 3629 section 4): no overlong forms,
// no surrogates, nothing above U+10FFFF, no sequence cut short.
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<std::uint8_t>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;  // overlong
      if (b == 0xED) hi = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;  // overlong
      if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    const auto b1 = static_cast<std::uint8_t>(s[i + 1]);
    if (b1 < lo || b1 > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      const auto c = static_cast<std::uint8_t>(s[i + k]);
      if (c < 0x80 || c > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

// "ce ba 41" -> the three bytes.
inline std::string from_hex(std::string_view text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("from_hex: bad digit");
  };
  std::string out;
  int high = -1;
  for (char c : text) {
    if (c == ' ') continue;
    if (high < 0) {
      high = nibble(c);
    } else {
      out += static_cast<char>(high * 16 + nibble(c));
      high = -1;
    }
  }
  if (high >= 0) throw std::invalid_argument("from_hex: odd digit count");
  return out;
}

struct utf8_sample {
  std::string bytes;
  bool valid;
};

struct utf8_group {
  std::string title;
  std::vector<utf8_sample> samples;
};

// The groups of cases 6.5 (first) to 6.23 (last), in order.
inline std::vector<utf8_group> utf8_groups() {
  std::vector<utf8_group> groups;
  auto group = [&](std::string title) -> std::vector<utf8_sample>& {
    groups.push_back({std::move(title), {}});
    return groups.back().samples;
  };
  auto add = [](std::vector<utf8_sample>& g, std::string_view hex_bytes, bool valid) {
    g.push_back({from_hex(hex_bytes), valid});
  };
  const std::string kosme = from_hex("ce ba e1 bd b9 cf 83 ce bc ce b5");  // "κόσμε"

  auto& g5 = group("Some valid UTF-8 sequences");
  g5.push_back({"hello$world", true});
  g5.push_back({"hello" + from_hex("c2 a2") + "world", true});
  g5.push_back({"hello" + from_hex("e2 82 ac") + "world", true});
  g5.push_back({"hello" + from_hex("f0 a4 ad a2") + "world", true});
  g5.push_back({kosme, true});

  auto& g6 = group("All prefixes of a valid UTF-8 string that contains multi-byte code points");
  for (std::size_t n = 1; n <= kosme.size(); ++n) {
    std::string prefix = kosme.substr(0, n);
    const bool ok = valid_utf8(prefix);
    g6.push_back({std::move(prefix), ok});
  }

  auto& g7 = group("First possible sequence of a certain length");
  for (auto s : {"00", "c2 80", "e0 a0 80", "f0 90 80 80"}) add(g7, s, true);

  auto& g8 = group("First possible sequence length 5/6 (invalid codepoints)");
  for (auto s : {"f8 88 80 80 80", "fc 84 80 80 80 80"}) add(g8, s, false);

  auto& g9 = group("Last possible sequence of a certain length");
  for (auto s : {"7f", "df bf", "ef bf bf", "f4 8f bf bf"}) add(g9, s, true);

  auto& g10 = group("Last possible sequence length 4/5/6 (invalid codepoints)");
  for (auto s : {"f7 bf bf bf", "fb bf bf bf bf", "fd bf bf bf bf bf"}) add(g10, s, false);

  auto& g11 = group("Other boundary conditions");
  for (auto s : {"ed 9f bf", "ee 80 80", "ef bf bd", "f4 8f bf bf"}) add(g11, s, true);
  add(g11, "f4 90 80 80", false);

  auto& g12 = group("Unexpected continuation bytes");
  for (auto s :
       {"80", "bf", "80 bf", "80 bf 80", "80 bf 80 bf", "80 bf 80 bf 80", "80 bf 80 bf 80 bf"})
    add(g12, s, false);
  {
    std::string all;
    for (int b = 0x80; b < 0xBF; ++b) all += static_cast<char>(b);
    g12.push_back({all, false});
  }

  auto& g13 = group("Lonely start characters");
  for (auto [first, last] :
       {std::pair{0xC0, 0xDF}, {0xE0, 0xEF}, {0xF0, 0xF7}, {0xF8, 0xFB}, {0xFC, 0xFD}}) {
    std::string s;
    for (int b = first; b < last; ++b) {
      s += static_cast<char>(b);
      s += ' ';
    }
    g13.push_back({s, false});
  }

  auto& g14 = group("Sequences with last continuation byte missing");
  const char* truncated[] = {"c0", "e0 80", "f0 80 80", "f8 80 80 80", "fc 80 80 80 80",
                             "df", "ef bf", "f7 bf bf", "fb bf bf bf", "fd bf bf bf bf"};
  for (auto s : truncated) add(g14, s, false);

  auto& g15 = group("Concatenation of incomplete sequences");
  {
    std::string all;
    for (auto s : truncated) all += from_hex(s);
    g15.push_back({all, false});
  }

  auto& g16 = group("Impossible bytes");
  for (auto s : {"fe", "ff", "fe fe ff ff"}) add(g16, s, false);

  auto& g17 = group("Examples of an overlong ASCII character");
  for (auto s : {"c0 af", "e0 80 af", "f0 80 80 af", "f8 80 80 80 af", "fc 80 80 80 80 af"})
    add(g17, s, false);

  auto& g18 = group("Maximum overlong sequences");
  for (auto s : {"c1 bf", "e0 9f bf", "f0 8f bf bf", "f8 87 bf bf bf", "fc 83 bf bf bf bf"})
    add(g18, s, false);

  auto& g19 = group("Overlong representation of the NUL character");
  for (auto s : {"c0 80", "e0 80 80", "f0 80 80 80", "f8 80 80 80 80", "fc 80 80 80 80 80"})
    add(g19, s, false);

  auto& g20 = group("Single UTF-16 surrogates");
  for (auto s :
       {"ed a0 80", "ed ad bf", "ed ae 80", "ed af bf", "ed b0 80", "ed be 80", "ed bf bf"})
    add(g20, s, false);

  auto& g21 = group("Paired UTF-16 surrogates");
  for (auto high : {"ed a0 80", "ed ad bf", "ed ae 80", "ed af bf"})
    for (auto low : {"ed b0 80", "ed bf bf"})
      g21.push_back({from_hex(high) + from_hex(low), false});

  auto& g22 = group("Non-character code points (valid UTF-8)");
  add(g22, "ef bf be", true);
  add(g22, "ef bf bf", true);
  // U+nFFFE and U+nFFFF of planes 1 to 16: F0..F4, then 8F/9F/AF/BF.
  for (int lead = 0xF0; lead <= 0xF4; ++lead) {
    for (int second : {0x8F, 0x9F, 0xAF, 0xBF}) {
      if (lead == 0xF0 && second == 0x8F) continue;  // overlong: plane 0
      if (lead == 0xF4 && second != 0x8F) continue;  // above U+10FFFF
      for (int last : {0xBE, 0xBF}) {
        std::string s{static_cast<char>(lead), static_cast<char>(second), static_cast<char>(0xBF),
                      static_cast<char>(last)};
        g22.push_back({s, true});
      }
    }
  }

  auto& g23 = group("Unicode specials (i.e. replacement char)");
  for (auto s :
       {"ef bf b9", "ef bf ba", "ef bf bb", "ef bf bc", "ef bf bd", "ef bf be", "ef bf bf"})
    add(g23, s, true);

  return groups;
}

}  // namespace websockets::conformance
