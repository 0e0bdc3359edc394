// Fuzzing of the opening handshake's checks (include/websockets/handshake.hpp)
// and of permessage-deflate's negotiation (extensions/permessage_deflate.hpp)
// on headers parsed from the input.
//
// Input: a byte whose bit 0 says request (0) or response (1), three bytes
// of permessage-deflate options (deflate_config.hpp), a byte that varies
// the test message, then the HTTP head.
//
// A request goes through check_request(); refusals must be invalid_handshake
// exceptions. An accepted key must be the base64 of 16 bytes, and the 101
// answer that build_response() writes for it must pass check_response(),
// with a Sec-WebSocket-Accept equal to OpenSSL's SHA-1 of the key. Each
// permessage-deflate offer goes to a server factory: an accepted offer must
// have an answer that the client who sent that offer accepts, with settings
// that work together, which a message sent each way then shows.
//
// A response goes through check_response() for the RFC 6455 sample key, and
// its Sec-WebSocket-Extensions through a client factory; refusals must be
// invalid_handshake exceptions, and what is accepted must match the offer.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#ifdef WEBSOCKETS_WITH_OPENSSL
#include <openssl/evp.h>
#include <openssl/sha.h>
#endif

#include "deflate_config.hpp"
#include "fuzz_support.hpp"
#include "websockets/extensions/permessage_deflate.hpp"
#include "websockets/handshake.hpp"
#include "websockets/headers.hpp"
#include "websockets/http.hpp"

namespace {

namespace ws = websockets;
namespace wd = websockets::detail;

// The sample key of RFC 6455 section 1.3.
constexpr std::string_view sample_key = "dGhlIHNhbXBsZSBub25jZQ==";

// Runs `f`, which may refuse with an invalid_handshake exception (the
// opening handshake's family); returns whether it did.
template <class F>
bool refused(F f) {
  try {
    f();
    return false;
  } catch (const ws::invalid_handshake&) {
    return true;
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }
}

bool is_base64_of_16_bytes(std::string_view key) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22))
    if (alphabet.find(c) == std::string_view::npos) return false;
  // 16 bytes leave 4 bits of the 22nd character unused: they must be 0.
  return alphabet.find(key[21]) % 16 == 0;
}

#ifdef WEBSOCKETS_WITH_OPENSSL
// Sec-WebSocket-Accept computed by OpenSSL, independently of detail::sha1
// and detail::base64_encode.
std::string openssl_accept(std::string_view key) {
  std::string text(key);
  text += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}
#endif

template <class Parser>
std::optional<ws::headers> parse_head(std::string_view bytes) {
  Parser p;
  try {
    p.feed(bytes);
  } catch (const ws::invalid_message&) {
    return std::nullopt;
  }
  if (!p.head_complete()) return std::nullopt;
  return p.message().headers;
}

const ws::deflate_settings& settings_of(const ws::extension& e) {
  return dynamic_cast<const ws::permessage_deflate&>(e).settings();
}

// Sends `text` through `from` and back out of `to`, twice, as one message
// each time: the second may refer back to the first when contexts are kept.
void exchange(ws::extension& from, ws::extension& to, const std::string& text) {
  for (int i = 0; i < 2; ++i) {
    ws::frame f;
    f.op = ws::opcode::binary;
    f.data = text;
    from.encode(f);
    try {
      to.decode(f, std::nullopt);
    } catch (const ws::protocol_error& e) {
      fuzz::fail(__FILE__, __LINE__,
                 std::string("a negotiated pair can't exchange a message: ") + e.what());
    }
    FUZZ_CHECK(f.data == text, "a negotiated pair changed a message of " +
                                   std::to_string(text.size()) + " bytes into " +
                                   std::to_string(f.data.size()));
  }
}

// The server accepted `offer` with `answer`: the client that made the
// offer accepts the answer, and the two ends agree.
void check_accepted_offer(const ws::extension_parameters& offer,
                          const ws::extension_parameters& answer, ws::extension& server_end,
                          std::uint8_t pattern) {
  const auto o = wd::parse_deflate_parameters(offer, true);
  // The answer is a valid response, and a header carries it as it is.
  wd::parse_deflate_parameters(answer, false);
  const std::vector<ws::extension_header> list{{"permessage-deflate", answer}};
  FUZZ_CHECK(ws::parse_extension_list(ws::build_extension_list(list)) == list,
             ws::build_extension_list(list));

  ws::client_deflate_options co;
  co.server_no_context_takeover = o.server_no_context_takeover;
  co.client_no_context_takeover = o.client_no_context_takeover;
  if (o.server_max_window_bits) co.server_max_window_bits = o.server_max_window_bits;
  if (o.client_max_window_bits) co.client_max_window_bits = o.client_max_window_bits;
  co.offer_client_max_window_bits = o.client_max_window_bits_bare;
  co.min_size = 0;
  co.skip_incompressible = false;
  const ws::client_permessage_deflate client(co);
  const auto reoffer = wd::parse_deflate_parameters(client.get_request_params(), true);
  FUZZ_CHECK(reoffer.server_no_context_takeover == o.server_no_context_takeover &&
                 reoffer.client_no_context_takeover == o.client_no_context_takeover &&
                 reoffer.server_max_window_bits == o.server_max_window_bits &&
                 reoffer.client_max_window_bits == o.client_max_window_bits &&
                 reoffer.client_max_window_bits_bare == o.client_max_window_bits_bare,
             ws::build_extension_list(std::vector<ws::extension_header>{
                 {"permessage-deflate", client.get_request_params()}}));

  std::unique_ptr<ws::extension> client_end;
  try {
    client_end = client.process_response_params(answer, {});
  } catch (const ws::negotiation_error& e) {
    fuzz::fail(__FILE__, __LINE__,
               "the client refuses the server's answer to its own offer " +
                   ws::build_extension_list(std::vector<ws::extension_header>{
                       {"permessage-deflate", offer}, {"permessage-deflate", answer}}) +
                   ": " + e.what());
  }
  const auto& s = settings_of(server_end);
  const auto& c = settings_of(*client_end);
  const auto where = [&] {
    return "offer and answer " +
           ws::build_extension_list(std::vector<ws::extension_header>{
               {"permessage-deflate", offer}, {"permessage-deflate", answer}});
  };
  // Each compressor's window fits the other end's decompressor, and an end
  // that resets its decompressor between messages faces a compressor that
  // does too.
  FUZZ_CHECK(s.local_max_window_bits <= c.remote_max_window_bits, where());
  FUZZ_CHECK(c.local_max_window_bits <= s.remote_max_window_bits, where());
  FUZZ_CHECK(!s.remote_no_context_takeover || c.local_no_context_takeover, where());
  FUZZ_CHECK(!c.remote_no_context_takeover || s.local_no_context_takeover, where());
  // What the client asked for, it gets.
  if (o.server_no_context_takeover) FUZZ_CHECK(c.remote_no_context_takeover, where());
  if (o.server_max_window_bits)
    FUZZ_CHECK(c.remote_max_window_bits <= o.server_max_window_bits, where());
  if (o.client_max_window_bits)
    FUZZ_CHECK(c.local_max_window_bits <= o.client_max_window_bits, where());

  // A block of 250 to 300 pseudo-random bytes, four times: matches reach
  // just inside or just past a 256-byte window.
  std::string block(250 + pattern % 51, '\0');
  std::uint32_t x = pattern + 1u;
  for (char& ch : block) {
    x = x * 1103515245u + 12345u;
    ch = static_cast<char>(x >> 24);
  }
  const std::string text = block + block + block + block;
  exchange(*client_end, server_end, text);
  exchange(server_end, *client_end, text);
}

void fuzz_request(fuzz::reader& in) {
  const auto server_options = fuzz::read_server_deflate_options(in);
  const std::uint8_t pattern = in.byte();
  const auto hs = parse_head<ws::http_request_parser>(in.rest());
  if (!hs) return;

  std::string key;
  if (!refused([&] { key = ws::check_request(*hs); })) {
    FUZZ_CHECK(is_base64_of_16_bytes(key), "check_request() accepted the key " + fuzz::quote(key));
    ws::http_response response;
    ws::build_response(response.headers, key);
#ifdef WEBSOCKETS_WITH_OPENSSL
    FUZZ_CHECK(response.headers["Sec-WebSocket-Accept"] == openssl_accept(key),
               "Sec-WebSocket-Accept for " + key + " is " +
                   response.headers["Sec-WebSocket-Accept"] + ", OpenSSL says " +
                   openssl_accept(key));
#endif
    const auto back = parse_head<ws::http_response_parser>(ws::serialize(response));
    FUZZ_CHECK(back.has_value(), "the 101 response doesn't parse");
    FUZZ_CHECK(!refused([&] { ws::check_response(*back, key); }),
               "check_response() refuses the response build_response() wrote");
  }

  // Every permessage-deflate offer, in order, as a server answers them: an
  // accepted one makes later ones conflict on RSV1.
  const ws::server_permessage_deflate server(server_options);
  std::vector<std::unique_ptr<ws::extension>> accepted;
  for (auto value : hs->get_all("Sec-WebSocket-Extensions")) {
    std::vector<ws::extension_header> offers;
    if (refused([&] { offers = ws::parse_extension_list(value); })) return;
    for (const auto& offer : offers) {
      if (offer.name != "permessage-deflate") continue;
      ws::extension_parameters answer;
      std::unique_ptr<ws::extension> ext;
      if (refused([&] {
            auto result = server.process_request_params(offer.params, accepted);
            answer = std::move(result.first);
            ext = std::move(result.second);
          }))
        continue;
      FUZZ_CHECK(accepted.empty(), "a second permessage-deflate offer was accepted");
      try {
        check_accepted_offer(offer.params, answer, *ext, pattern);
      } catch (const std::exception& e) {
        fuzz::unexpected(__FILE__, __LINE__, e);
      }
      accepted.push_back(std::move(ext));
    }
  }
}

void fuzz_response(fuzz::reader& in) {
  const auto options = fuzz::read_client_deflate_options(in);
  in.byte();
  const auto hs = parse_head<ws::http_response_parser>(in.rest());
  if (!hs) return;

  if (!refused([&] { ws::check_response(*hs, sample_key); })) {
    FUZZ_CHECK((*hs)["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
               "check_response() accepted " + (*hs)["Sec-WebSocket-Accept"]);
  }

  const ws::client_permessage_deflate client(options);
  std::vector<std::unique_ptr<ws::extension>> accepted;
  for (auto value : hs->get_all("Sec-WebSocket-Extensions")) {
    std::vector<ws::extension_header> answers;
    if (refused([&] { answers = ws::parse_extension_list(value); })) return;
    for (const auto& answer : answers) {
      if (answer.name != "permessage-deflate") continue;
      std::unique_ptr<ws::extension> ext;
      if (refused([&] { ext = client.process_response_params(answer.params, accepted); })) continue;
      FUZZ_CHECK(accepted.empty(), "a second permessage-deflate answer was accepted");
      const auto& s = settings_of(*ext);
      const auto where = [&] { return "answer " + std::string(value); };
      if (options.server_no_context_takeover) FUZZ_CHECK(s.remote_no_context_takeover, where());
      if (options.server_max_window_bits)
        FUZZ_CHECK(s.remote_max_window_bits <= *options.server_max_window_bits, where());
      if (options.client_max_window_bits)
        FUZZ_CHECK(s.local_max_window_bits <= *options.client_max_window_bits, where());
      if (options.client_no_context_takeover) FUZZ_CHECK(s.local_no_context_takeover, where());
      accepted.push_back(std::move(ext));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::reader in(data, size);
  try {
    if (in.byte() & 1) {
      fuzz_response(in);
    } else {
      fuzz_request(in);
    }
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }
  return 0;
}
