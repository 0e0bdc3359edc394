// Fuzzing of permessage-deflate's decoder (permessage_deflate::decode in
// include/websockets/extensions/permessage_deflate.hpp), differentially
// against zlib driven directly.
//
// Input: a settings byte (bits 0-2: the window, 8 to 15 bits; bit 3: the
// peer resets its context after each message; bits 4-7: max_size, 0 to
// 64 KiB, and for 1 value in 16 just over the scratch buffer's 1 MiB +
// 64 KiB, which costs a lot of inflating), then
// frames: a flags byte (bit 0: fin, bit 1: RSV1, bit 2: binary rather than
// text; the first frame of a message is text or binary, the others
// continuations, as the connection guarantees), a little-endian 16-bit
// length, the payload.
//
// Checked: the decoder throws only payload_too_big, protocol_error 1007, or
// protocol_error 1002 for RSV1 on a continuation frame; it never returns
// more than max_size bytes per message; zlib's memory stays bounded; and
// as long as the data has no final block (after which the library goes on
// with a new stream on the same window, a choice of its own) its output
// and its verdicts are those of a plain zlib inflate of the message with
// 00 00 ff ff appended.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "websockets/extensions/permessage_deflate.hpp"

namespace {

namespace ws = websockets;

constexpr std::size_t max_sizes[16] = {
    16,  1000, 64 * 1024, 16,   1000, 64 * 1024 + 1, 300, 0,
    300, 1000, 64 * 1024, 4096, 1,    64 * 1024,     200, (1 << 20) + 100 * 1024};

// zlib on its own: inflates a message's frames as they come, counting
// bytes against the same limit.
class reference_inflater {
 public:
  enum class verdict { ok, too_big, corrupt, final_block };

  explicit reference_inflater(int window_bits) {
    if (inflateInit2(&z_, -window_bits) != Z_OK) fuzz::fail(__FILE__, __LINE__, "inflateInit2");
  }
  ~reference_inflater() { inflateEnd(&z_); }
  reference_inflater(const reference_inflater&) = delete;
  reference_inflater& operator=(const reference_inflater&) = delete;

  void reset() { inflateReset(&z_); }

  // Inflates `in` into `out`, which may hold at most `limit` bytes: past
  // that, too_big (having produced limit + 1).
  verdict inflate_frame(std::string_view in, std::string& out, std::size_t limit) {
    out.clear();
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    unsigned char chunk[4096];
    for (;;) {
      z_.next_out = chunk;
      z_.avail_out = sizeof chunk;
      const int rc = ::inflate(&z_, Z_SYNC_FLUSH);
      out.append(reinterpret_cast<const char*>(chunk), sizeof chunk - z_.avail_out);
      if (out.size() > limit) {
        out.resize(limit + 1);
        return verdict::too_big;
      }
      if (rc == Z_STREAM_END) return verdict::final_block;
      if (rc == Z_DATA_ERROR) return verdict::corrupt;
      if (rc != Z_OK && rc != Z_BUF_ERROR) fuzz::fail(__FILE__, __LINE__, "inflate() failed");
      if (z_.avail_in == 0 && z_.avail_out != 0) return verdict::ok;
    }
  }

  // Whether the input so far ends between two blocks.
  bool at_block_boundary() const { return (z_.data_type & 128) != 0; }

 private:
  z_stream z_{};
};

void run(fuzz::reader& in) {
  const std::uint8_t settings_byte = in.byte();
  ws::deflate_settings settings;
  settings.remote_max_window_bits = 8 + (settings_byte & 7);
  settings.remote_no_context_takeover = settings_byte & 8;
  const std::size_t max_size = max_sizes[settings_byte >> 4];
  ws::permessage_deflate decoder(settings);
  reference_inflater reference(settings.remote_max_window_bits);
  bool compare = true;  // until a final block

  bool in_message = false, compressed = false;
  std::size_t message_size = 0;
  // Kept from one input to the next: growing a fresh string to 1 MiB in
  // every run cost more in page faults (ASan maps big blocks anew) than
  // the inflating.
  static std::string expected, tail_out;
  expected.clear();
  for (std::size_t index = 0; !in.empty(); ++index) {
    const std::uint8_t flags = in.byte();
    const std::size_t length = in.u16();
    ws::frame f;
    f.fin = flags & 1;
    f.rsv1 = flags & 2;
    f.op = in_message ? ws::opcode::cont : flags & 4 ? ws::opcode::binary : ws::opcode::text;
    f.data = std::string(in.bytes(length));
    const std::string input = f.data;
    if (!in_message) compressed = f.rsv1;
    const std::size_t room = max_size - message_size;
    // The connection never hands over a frame longer than the room left:
    // it fails the connection on the header already.
    if (f.data.size() > room) return;
    const auto where = [&] {
      return "frame " + std::to_string(index) + " (" + std::to_string(input.size()) +
             " bytes, opcode " + std::to_string(static_cast<int>(f.op)) + ", fin " +
             std::to_string(f.fin) + ", RSV1 " + std::to_string(f.rsv1) + ", room " +
             std::to_string(room) + ")";
    };

    // The verdict zlib alone gives.
    using verdict = reference_inflater::verdict;
    verdict ref = verdict::ok;
    const bool rsv1_on_continuation = in_message && f.rsv1;
    if (compressed && !rsv1_on_continuation && compare) {
      ref = reference.inflate_frame(input, expected, room);
      if (ref == verdict::ok && f.fin) {
        ref = reference.inflate_frame(std::string_view("\0\0\xff\xff", 4), tail_out,
                                      room - expected.size());
        expected += tail_out;
        if (ref == verdict::ok && !reference.at_block_boundary()) ref = verdict::corrupt;
      }
      if (ref == verdict::final_block) compare = false;
    }

    try {
      decoder.decode(f, room);
    } catch (const ws::payload_too_big&) {
      FUZZ_CHECK(compressed && !rsv1_on_continuation, where() + ": payload_too_big");
      if (compare) FUZZ_CHECK(ref == verdict::too_big, where() + ": payload_too_big");
      return;  // the connection fails
    } catch (const ws::protocol_error& e) {
      if (rsv1_on_continuation) {
        FUZZ_CHECK(e.close_code() == 1002, where() + ": " + e.what());
      } else {
        FUZZ_CHECK(e.close_code() == 1007 && compressed, where() + ": " + e.what());
        if (compare) FUZZ_CHECK(ref == verdict::corrupt, where() + ": " + e.what());
      }
      return;
    } catch (const std::exception& e) {
      fuzz::unexpected(__FILE__, __LINE__, e);
    }
    FUZZ_CHECK(!rsv1_on_continuation, where() + ": RSV1 on a continuation frame accepted");
    FUZZ_CHECK(!f.rsv1, where() + ": RSV1 left set");
    FUZZ_CHECK(f.data.size() <= room, where() + ": " + std::to_string(f.data.size()) + " bytes");
    if (!compressed) {
      FUZZ_CHECK(f.data == input, where() + ": an uncompressed frame changed");
    } else if (compare) {
      FUZZ_CHECK(ref == verdict::ok, where() + ": accepted");
      FUZZ_CHECK(f.data == expected,
                 where() + ": " + fuzz::quote(f.data) + ", zlib gives " + fuzz::quote(expected));
    }
    // Streams are held by this decoder and the per-thread pool only.
    FUZZ_CHECK(ws::detail::zlib_bytes_in_use() < 512 * 1024,
               std::to_string(ws::detail::zlib_bytes_in_use()) + " bytes in zlib");

    message_size += f.data.size();
    in_message = !f.fin;
    if (f.fin) {
      message_size = 0;
      if (compressed && settings.remote_no_context_takeover) reference.reset();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::reader in(data, size);
  try {
    run(in);
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }
  return 0;
}
