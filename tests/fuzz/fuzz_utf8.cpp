// Differential fuzzing of UTF-8 validation (include/websockets/utf8.hpp)
// against fuzz::reference_utf8: the whole-string checks, both engines, and
// utf8_validator fed in pieces cut where the input says.
//
// Input: a cutting plan (see fuzz::read_pieces), then the bytes to check.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "websockets/utf8.hpp"

namespace {

namespace ws = websockets;
namespace wd = websockets::detail;

std::string describe(const fuzz::utf8_scan& r) {
  return "reference: error at " +
         (r.valid_prefix() ? std::string("none") : std::to_string(r.error)) +
         (r.complete ? ", complete" : ", ends inside a code point");
}

// An engine's final state agrees with the reference's verdict.
void check_state(unsigned state, const fuzz::utf8_scan& ref, std::string_view s,
                 const char* engine) {
  const auto where = [&] {
    return std::string(engine) + " on " + fuzz::quote(s) + " gave state " + std::to_string(state) +
           "; " + describe(ref);
  };
  if (!ref.valid_prefix()) {
    FUZZ_CHECK(state == wd::utf8_reject, where());
  } else if (ref.complete) {
    FUZZ_CHECK(state == wd::utf8_accept, where());
  } else {
    FUZZ_CHECK(state != wd::utf8_reject && state != wd::utf8_accept, where());
  }
}

void check_whole(std::string_view s) {
  const auto ref = fuzz::reference_utf8(s);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto where = [&] { return fuzz::quote(s) + "; " + describe(ref); };

  FUZZ_CHECK(ws::is_valid_utf8(s) == ref.valid(), where());

  const std::size_t expected_offset = !ref.valid_prefix() ? ref.error
                                      : ref.complete      ? std::string_view::npos
                                                          : s.size();
  FUZZ_CHECK(wd::utf8_error_offset(s) == expected_offset,
             where() + "; utf8_error_offset gave " + std::to_string(wd::utf8_error_offset(s)));

  const unsigned portable = wd::utf8_validate_portable(p, s.size());
  check_state(portable, ref, s, "utf8_validate_portable");
  check_state(wd::utf8_validate(p, s.size()), ref, s, "utf8_validate");
#ifdef WEBSOCKETS_DETAIL_UTF8_X86
  if (wd::utf8_cpu_has_avx2()) {
    // Any length, not only the ≥ 32 bytes utf8_validate hands it.
    const unsigned avx2 = wd::utf8_validate_avx2(p, s.size());
    check_state(avx2, ref, s, "utf8_validate_avx2");
    // Inside a code point, both engines must agree on which state.
    if (ref.valid_prefix())
      FUZZ_CHECK(avx2 == portable, where() + ": AVX2 and portable states differ");
  }
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::reader in(data, size);
  std::string_view whole;
  const auto pieces = fuzz::read_pieces(in, &whole);

  check_whole(whole);

  // The incremental validator: after each piece, it says false exactly
  // when the bytes so far can't begin valid UTF-8, and complete() says
  // whether they are valid and end on a boundary.
  ws::utf8_validator v;
  std::size_t fed = 0;
  bool failed = false;
  for (auto piece : pieces) {
    fed += piece.size();
    const std::string_view so_far = whole.substr(0, fed);
    const auto ref = fuzz::reference_utf8(so_far);
    const bool ok = v.feed(piece);
    const auto where = [&] {
      return "after feeding " + fuzz::quote(so_far) + " in pieces, the last " + fuzz::quote(piece) +
             ", feed() gave " + (ok ? "true" : "false") + "; " + describe(ref);
    };
    FUZZ_CHECK(ok == ref.valid_prefix(), where());
    FUZZ_CHECK(!(failed && ok), where() + ": true after a failure");
    FUZZ_CHECK(v.complete() == ref.valid(), where() + ": complete() disagrees");
    failed = failed || !ok;
    // Each piece on its own, with a fresh validator, as utf8_validate sees it.
    check_whole(piece);
  }

  // reset() forgets everything: the whole input in one go gives the
  // whole-string verdict.
  v.reset();
  const auto ref = fuzz::reference_utf8(whole);
  FUZZ_CHECK(v.feed(whole) == ref.valid_prefix(), "after reset(): " + fuzz::quote(whole));
  FUZZ_CHECK(v.complete() == ref.valid(), "after reset(): " + fuzz::quote(whole));
  return 0;
}
