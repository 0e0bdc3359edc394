// Reading and writing the one-line JSON objects that the interop peers and
// the browser driver exchange with tests. Flat objects are the protocol;
// nested values are kept as their raw JSON text.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace websockets::testing {

// `s` as a JSON string literal, quotes included.
inline std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static constexpr char hex[] = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

// One parsed JSON object: each member's kind and value.
class json_object {
 public:
  enum class kind { null, boolean, number, string, nested };

  // Parses `line`, which must hold one JSON object and nothing else.
  // Throws std::invalid_argument saying what was wrong and at which offset.
  static json_object parse(std::string_view line) {
    parser p{line};
    json_object obj;
    p.skip_space();
    p.expect('{');
    p.skip_space();
    if (!p.consume('}')) {
      for (;;) {
        p.skip_space();
        std::string key = p.string_value();
        p.skip_space();
        p.expect(':');
        p.skip_space();
        obj.members_[std::move(key)] = p.value();
        p.skip_space();
        if (p.consume('}')) break;
        p.expect(',');
      }
    }
    p.skip_space();
    if (p.pos != line.size()) p.fail("text after the object");
    obj.text_ = line;
    return obj;
  }

  bool contains(const std::string& key) const { return members_.count(key) != 0; }

  kind type(const std::string& key) const { return at(key).k; }

  // The member's value; each throws if it is absent or of another kind.
  const std::string& string(const std::string& key) const { return as(key, kind::string).text; }
  double number(const std::string& key) const {
    return std::strtod(as(key, kind::number).text.c_str(), nullptr);
  }
  std::int64_t integer(const std::string& key) const {
    return std::strtoll(as(key, kind::number).text.c_str(), nullptr, 10);
  }
  bool boolean(const std::string& key) const { return as(key, kind::boolean).text == "true"; }
  bool is_null(const std::string& key) const { return at(key).k == kind::null; }
  // A string member that may be null (or absent): std::nullopt then.
  std::optional<std::string> optional_string(const std::string& key) const {
    auto it = members_.find(key);
    if (it == members_.end() || it->second.k == kind::null) return std::nullopt;
    return as(key, kind::string).text;
  }
  // The raw JSON text of a nested object or array.
  const std::string& nested(const std::string& key) const { return as(key, kind::nested).text; }

  // The line it was parsed from.
  const std::string& text() const noexcept { return text_; }

 private:
  struct member {
    kind k;
    std::string text;  // decoded for strings, the JSON text otherwise
  };

  const member& at(const std::string& key) const {
    auto it = members_.find(key);
    if (it == members_.end()) throw std::out_of_range("no \"" + key + "\" in " + text_);
    return it->second;
  }
  const member& as(const std::string& key, kind k) const {
    const member& m = at(key);
    if (m.k != k) throw std::invalid_argument("\"" + key + "\" has another type in " + text_);
    return m;
  }

  struct parser {
    std::string_view s;
    std::size_t pos = 0;

    [[noreturn]] void fail(const std::string& what) const {
      throw std::invalid_argument("JSON: " + what + " at offset " + std::to_string(pos) + " in " +
                                  std::string(s));
    }
    void skip_space() {
      while (pos < s.size() &&
             (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\r' || s[pos] == '\n'))
        ++pos;
    }
    bool consume(char c) {
      if (pos < s.size() && s[pos] == c) return ++pos, true;
      return false;
    }
    void expect(char c) {
      if (!consume(c)) fail(std::string("expected '") + c + "'");
    }
    unsigned hex4() {
      if (pos + 4 > s.size()) fail("short \\u escape");
      unsigned v = 0;
      for (int i = 0; i < 4; ++i) {
        char c = s[pos++];
        v <<= 4;
        if (c >= '0' && c <= '9')
          v |= static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f')
          v |= static_cast<unsigned>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
          v |= static_cast<unsigned>(c - 'A' + 10);
        else
          fail("bad \\u escape");
      }
      return v;
    }
    static void append_utf8(std::string& out, unsigned cp) {
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    std::string string_value() {
      expect('"');
      std::string out;
      for (;;) {
        if (pos >= s.size()) fail("unterminated string");
        char c = s[pos++];
        if (c == '"') return out;
        if (c != '\\') {
          out += c;
          continue;
        }
        if (pos >= s.size()) fail("unterminated escape");
        switch (char e = s[pos++]) {
          case '"':
          case '\\':
          case '/':
            out += e;
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            unsigned cp = hex4();
            if (cp >= 0xD800 && cp < 0xDC00 && s.substr(pos, 2) == "\\u") {
              pos += 2;
              unsigned low = hex4();
              if (low < 0xDC00 || low >= 0xE000) fail("unpaired surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            append_utf8(out, cp);
            break;
          }
          default:
            fail("bad escape");
        }
      }
    }
    // Skips a nested object or array, strings inside included.
    void skip_nested() {
      int depth = 0;
      do {
        if (pos >= s.size()) fail("unterminated nested value");
        char c = s[pos];
        if (c == '"') {
          string_value();
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') --depth;
        ++pos;
      } while (depth > 0);
    }
    member value() {
      if (pos >= s.size()) fail("expected a value");
      std::size_t start = pos;
      char c = s[pos];
      if (c == '"') return {kind::string, string_value()};
      if (c == '{' || c == '[') {
        skip_nested();
        return {kind::nested, std::string(s.substr(start, pos - start))};
      }
      for (auto [word, k] : {std::pair{std::string_view("true"), kind::boolean},
                             std::pair{std::string_view("false"), kind::boolean},
                             std::pair{std::string_view("null"), kind::null}}) {
        if (s.substr(pos, word.size()) == word) {
          pos += word.size();
          return {k, std::string(word)};
        }
      }
      while (pos < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '-' ||
                                s[pos] == '+' || s[pos] == '.' || s[pos] == 'e' || s[pos] == 'E'))
        ++pos;
      if (pos == start) fail("expected a value");
      return {kind::number, std::string(s.substr(start, pos - start))};
    }
  };

  std::map<std::string, member, std::less<>> members_;
  std::string text_;
};

}  // namespace websockets::testing
