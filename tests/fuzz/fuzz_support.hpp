// What the fuzz targets share: a cursor that reads choices out of the
// input, a check that stops the run with a message, a way to cut bytes into
// pieces where the input says, and a reference UTF-8 checker written
// straight from the grammar of RFC 3629, independent of the library's.
#pragma once

#include <cxxabi.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace fuzz {

// Prints why the run failed and aborts, which libFuzzer reports as a crash
// and saves the input for.
[[noreturn]] inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "\n*** fuzz check failed at %s:%d: %s\n", file, line, what.c_str());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, what)                                                             \
  do {                                                                                     \
    if (!(cond)) ::fuzz::fail(__FILE__, __LINE__, std::string("!(" #cond "): ") + (what)); \
  } while (0)

// For the targets' own byte loops (filling payloads, unmasking): coverage
// of them would only slow the fuzzer and mislead it.
#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))

// Untrusted bytes as a quoted string: non-printable bytes as \xNN, at most
// `max` bytes shown.
FUZZ_NO_COVERAGE inline std::string quote(std::string_view s, std::size_t max = 300) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u < 0x7f && u != '"' && u != '\\') {
      out += static_cast<char>(u);
    } else {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  if (s.size() > max) out += "...";
  return out + "\" (" + std::to_string(s.size()) + " bytes)";
}

// The dynamic type of an exception, demangled, for messages.
inline std::string type_name(const std::exception& e) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(typeid(e).name());
}

// Stops the run on an exception that no check expected: its type and
// message say which.
[[noreturn]] inline void unexpected(const char* file, int line, const std::exception& e) {
  fail(file, line, "unexpected exception " + type_name(e) + ": " + e.what());
}

// Whether FUZZ_TRACE is set in the environment: targets then print what
// they do, to understand a crash input (run the target on that file).
inline bool tracing() {
  static const bool on = std::getenv("FUZZ_TRACE") != nullptr;
  return on;
}

#define FUZZ_TRACE(...)                  \
  do {                                   \
    if (::fuzz::tracing()) {             \
      std::fprintf(stderr, __VA_ARGS__); \
      std::fputc('\n', stderr);          \
    }                                    \
  } while (0)

// Reads choices from the front of the input. Past the end every read gives
// zeros or nothing, so that any input is a valid one.
class reader {
 public:
  reader(const std::uint8_t* data, std::size_t size) noexcept
      : s_(reinterpret_cast<const char*>(data), size) {}
  explicit reader(std::string_view s) noexcept : s_(s) {}

  bool empty() const noexcept { return pos_ == s_.size(); }
  std::size_t left() const noexcept { return s_.size() - pos_; }

  std::uint8_t byte() noexcept {
    return pos_ < s_.size() ? static_cast<std::uint8_t>(s_[pos_++]) : std::uint8_t{0};
  }

  // Little-endian.
  std::uint16_t u16() noexcept {
    const unsigned lo = byte();
    return static_cast<std::uint16_t>(lo | (unsigned{byte()} << 8));
  }

  // The next `n` bytes, fewer at the end.
  std::string_view bytes(std::size_t n) noexcept {
    n = std::min(n, left());
    auto out = s_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  std::string_view rest() noexcept { return bytes(left()); }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

// Reads a cutting plan (a count, then that many piece lengths) and applies
// it to the rest of the input: the pieces in order, covering all of it, the
// last one being whatever the lengths left. Empty pieces are kept, since
// callers must cope with them.
inline std::vector<std::string_view> read_pieces(reader& r, std::string_view* whole = nullptr) {
  const std::size_t cuts = r.byte() % 16;
  std::vector<std::size_t> lengths;
  lengths.reserve(cuts);  // one allocation each, not one per growth
  for (std::size_t i = 0; i < cuts; ++i) lengths.push_back(r.byte());
  const std::string_view data = r.rest();
  if (whole) *whole = data;
  std::vector<std::string_view> pieces;
  pieces.reserve(cuts + 1);
  std::size_t at = 0;
  for (std::size_t n : lengths) {
    n = std::min(n, data.size() - at);
    pieces.push_back(data.substr(at, n));
    at += n;
  }
  pieces.push_back(data.substr(at));
  return pieces;
}

// ---- Reference UTF-8 ------------------------------------------------------

// What a scan of bytes found: the offset of the first byte that no valid
// UTF-8 can have there (npos if none), whether the bytes end on a code
// point boundary, and where the last whole code point ends (when there is
// no error).
struct utf8_scan {
  std::size_t error = std::string_view::npos;
  bool complete = true;
  std::size_t boundary = 0;

  bool valid_prefix() const noexcept { return error == std::string_view::npos; }
  bool valid() const noexcept { return valid_prefix() && complete; }
};

// RFC 3629 section 4, one sequence at a time: the lead byte fixes the
// length and the range of the second byte; later bytes are 80..BF.
inline utf8_scan reference_utf8(std::string_view s) noexcept {
  utf8_scan out;
  std::size_t i = 0;
  while (i < s.size()) {
    out.boundary = i;
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    unsigned lo = 0x80, hi = 0xBF;  // the second byte's range
    if (b >= 0xC2 && b <= 0xDF) {
      length = 2;
    } else if (b == 0xE0) {
      length = 3, lo = 0xA0;
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      length = 3;
    } else if (b == 0xED) {
      length = 3, hi = 0x9F;
    } else if (b == 0xF0) {
      length = 4, lo = 0x90;
    } else if (b >= 0xF1 && b <= 0xF3) {
      length = 4;
    } else if (b == 0xF4) {
      length = 4, hi = 0x8F;
    } else {
      out.error = i;
      return out;
    }
    for (std::size_t k = 1; k < length; ++k) {
      if (i + k == s.size()) {
        out.complete = false;
        return out;
      }
      const auto c = static_cast<unsigned char>(s[i + k]);
      const unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      if (c < l || c > h) {
        out.error = i + k;
        return out;
      }
    }
    i += length;
  }
  out.boundary = i;
  return out;
}

}  // namespace fuzz
