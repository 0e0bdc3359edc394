// The system zlib, wrapped for permessage-deflate: raw DEFLATE streams that
// count the memory they hold, a small per-thread pool of idle streams, and
// the per-thread scratch buffer compressed and decompressed bytes pass
// through. Nothing here knows about frames or negotiation.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "websockets/exceptions.hpp"

namespace websockets::detail {

// ---- Memory accounting ----------------------------------------------------

// Bytes zlib holds right now across the process (every stream made here).
// Streams allocate only when they are created, so keeping the count costs
// nothing on the hot path; tests and the benchmark read it.
inline std::atomic<std::size_t>& zlib_bytes_in_use() noexcept {
  static std::atomic<std::size_t> bytes{0};
  return bytes;
}

// zlib's allocator hooks: malloc with a header that remembers the size, so
// that zfree can subtract it again. The header keeps 16-byte alignment.
inline constexpr std::size_t zlib_header_size = 16;

inline voidpf zlib_alloc(voidpf, uInt items, uInt size) noexcept {
  const std::size_t n = static_cast<std::size_t>(items) * size;
  auto* p = static_cast<unsigned char*>(std::malloc(n + zlib_header_size));
  if (!p) return Z_NULL;
  std::memcpy(p, &n, sizeof n);
  zlib_bytes_in_use().fetch_add(n, std::memory_order_relaxed);
  return p + zlib_header_size;
}

inline void zlib_free(voidpf, voidpf address) noexcept {
  if (!address) return;
  auto* p = static_cast<unsigned char*>(address) - zlib_header_size;
  std::size_t n;
  std::memcpy(&n, p, sizeof n);
  zlib_bytes_in_use().fetch_sub(n, std::memory_order_relaxed);
  std::free(p);
}

// ---- Streams --------------------------------------------------------------

// How a compressor is set up; streams are pooled by equal settings.
struct deflater_config {
  int level = Z_DEFAULT_COMPRESSION;
  int window_bits = 15;  // 8 to 15, as negotiated
  int mem_level = 8;

  friend bool operator==(const deflater_config&, const deflater_config&) = default;
};

// How a decompressor is set up.
struct inflater_config {
  int window_bits = 15;  // 8 to 15, as negotiated

  friend bool operator==(const inflater_config&, const inflater_config&) = default;
};

// A raw DEFLATE compressor. It lives on the heap and never moves, because
// zlib's state points back at its z_stream.
class deflater {
 public:
  using config = deflater_config;

  explicit deflater(const config& c) : config_(c) {
    z_.zalloc = zlib_alloc;
    z_.zfree = zlib_free;
    z_.opaque = Z_NULL;
    // zlib refuses a 256-byte window for raw deflate and would silently
    // turn 8 into 9 for the zlib format. A 512-byte window is safe for a
    // peer that inflates with 256 bytes: zlib never emits a distance beyond
    // the window minus its 262-byte lookahead, i.e. 250 bytes here.
    const int bits = std::max(c.window_bits, 9);
    const int rc = deflateInit2(&z_, c.level, Z_DEFLATED, -bits, c.mem_level, Z_DEFAULT_STRATEGY);
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc != Z_OK) throw std::invalid_argument("zlib rejected the compression settings");
  }
  ~deflater() { deflateEnd(&z_); }
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;

  const config& settings() const noexcept { return config_; }

  // Forgets the history: the next message starts a fresh LZ77 window.
  void reset() noexcept { deflateReset(&z_); }

  // Compresses `size` bytes at `data` and flushes them to a byte boundary
  // (Z_SYNC_FLUSH), writing into `out` from offset 0 and growing it as
  // needed. Returns the number of bytes written. The output of a non-empty
  // flush ends with the empty stored block 00 00 ff ff; when zlib has
  // nothing to flush (no input right after a flush) it writes nothing.
  std::size_t compress(const char* data, std::size_t size, std::string& out) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    std::size_t left = size;
    std::size_t written = 0;
    // deflateBound() covers the blocks; 16 more bytes cover the flush
    // markers, so one deflate() call usually suffices.
    const std::size_t bound =
        deflateBound(&z_, static_cast<uLong>(std::min<std::size_t>(size, UINT_MAX))) + 16;
    if (out.size() < bound) out.resize(bound);
    for (;;) {
      const std::size_t chunk = std::min<std::size_t>(left, UINT_MAX / 2);
      z_.avail_in = static_cast<uInt>(chunk);
      const int flush = chunk == left ? Z_SYNC_FLUSH : Z_NO_FLUSH;
      do {
        if (out.size() - written < 64) out.resize(out.size() * 2);
        const std::size_t room = std::min<std::size_t>(out.size() - written, UINT_MAX);
        z_.next_out = reinterpret_cast<Bytef*>(out.data() + written);
        z_.avail_out = static_cast<uInt>(room);
        const int rc = deflate(&z_, flush);
        written += room - z_.avail_out;
        if (rc == Z_BUF_ERROR) break;  // nothing to do: no input, already flushed
        if (rc != Z_OK) throw std::logic_error("zlib deflate() failed");
      } while (z_.avail_out == 0);
      left -= chunk;
      if (left == 0) return written;
    }
  }

 private:
  z_stream z_{};
  config config_;
};

// A raw DEFLATE decompressor.
class inflater {
 public:
  using config = inflater_config;

  explicit inflater(const config& c) : config_(c) {
    z_.zalloc = zlib_alloc;
    z_.zfree = zlib_free;
    z_.opaque = Z_NULL;
    const int rc = inflateInit2(&z_, -c.window_bits);
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc != Z_OK) throw std::invalid_argument("zlib rejected the decompression settings");
  }
  ~inflater() { inflateEnd(&z_); }
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;

  const config& settings() const noexcept { return config_; }

  // Forgets the history and any half-decoded block.
  void reset() noexcept {
    inflateReset(&z_);
    ended_ = false;
  }

  // Bytes produced since the stream was made or last reset.
  std::size_t total_out() const noexcept { return z_.total_out; }

  // True when the last input ended exactly between two DEFLATE blocks (or
  // after a final block), as every message must once 00 00 ff ff is added.
  bool at_block_boundary() const noexcept { return ended_ || (z_.data_type & 128) != 0; }

  // True when the last input ended with a block marked final (BFINAL).
  bool ended() const noexcept { return ended_; }

  // Decompresses `size` bytes at `data`, writing into `out` from offset
  // `written` and growing it, and returns the new end offset. At most
  // `limit` bytes may be written in all: past that it throws
  // payload_too_big having produced limit + 1 bytes, not the rest. Throws
  // protocol_error (1007) for data that isn't valid DEFLATE.
  std::size_t decompress(const char* data, std::size_t size, std::string& out, std::size_t written,
                         std::size_t limit) {
    // Never write more than one byte past the limit: that byte proves the
    // message too big without inflating the rest of a zip bomb.
    const std::size_t cap = limit == SIZE_MAX ? SIZE_MAX : limit + 1;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    std::size_t left = size;
    while (left > 0) {
      if (ended_) restart_keeping_window();
      const std::size_t chunk = std::min<std::size_t>(left, UINT_MAX / 2);
      z_.avail_in = static_cast<uInt>(chunk);
      for (;;) {
        if (written == out.size()) {
          const std::size_t grown = std::max<std::size_t>(out.size() * 2, 16 * 1024);
          out.resize(std::min(grown, cap));
        }
        const std::size_t room =
            std::min<std::size_t>(std::min(out.size(), cap) - written, UINT_MAX);
        z_.next_out = reinterpret_cast<Bytef*>(out.data() + written);
        z_.avail_out = static_cast<uInt>(room);
        const int rc = inflate(&z_, Z_SYNC_FLUSH);
        written += room - z_.avail_out;
        if (written > limit) throw_too_big(limit);
        if (rc == Z_STREAM_END) {
          // A block marked final ends this DEFLATE stream; what follows
          // (RFC 7692 7.2.3.4) is read as a new stream on the same window.
          ended_ = true;
          break;
        }
        if (rc == Z_DATA_ERROR) {
          throw protocol_error(std::string("invalid compressed data: ") +
                                   (z_.msg ? z_.msg : "corrupt DEFLATE stream") + " near byte " +
                                   std::to_string(size - left + (chunk - z_.avail_in)),
                               code_of(close_code::invalid_payload));
        }
        if (rc == Z_MEM_ERROR) throw std::bad_alloc();
        if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::logic_error("zlib inflate() failed");
        // Done with this input once it is used up and zlib stopped for
        // want of input rather than of room.
        if (z_.avail_in == 0 && z_.avail_out != 0) break;
      }
      left -= chunk - z_.avail_in;
    }
    return written;
  }

 private:
  [[noreturn]] static void throw_too_big(std::size_t limit) {
    throw payload_too_big("message too big: over " + std::to_string(limit) +
                          " bytes after decompression");
  }

  // After a final block: a fresh stream that still sees the last window, so
  // that what follows may refer back to it.
  void restart_keeping_window() {
    thread_local std::unique_ptr<Bytef[]> window(new Bytef[1u << 15]);
    uInt n = 0;
    inflateGetDictionary(&z_, window.get(), &n);
    const unsigned long total = z_.total_out;
    inflateReset(&z_);
    if (n > 0) inflateSetDictionary(&z_, window.get(), n);
    z_.total_out = total;
    ended_ = false;
  }

  z_stream z_{};
  config config_;
  bool ended_ = false;
};

// ---- Pool -----------------------------------------------------------------

// Idle streams kept for reuse on this thread. A connection whose context is
// reset after every message (no_context_takeover) takes a stream for one
// message and gives it back, so idle connections hold no zlib memory and the
// steady state allocates nothing. A handful per thread is enough: a thread
// works on one message at a time.
template <class Stream>
class stream_pool {
 public:
  static constexpr std::size_t capacity = 4;

  static stream_pool& local() {
    thread_local stream_pool pool;
    return pool;
  }

  // A reset stream with these settings, reused when one is idle.
  std::unique_ptr<Stream> take(const typename Stream::config& c) {
    for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
      if ((*it)->settings() == c) {
        auto s = std::move(*it);
        idle_.erase(std::next(it).base());
        return s;
      }
    }
    return std::make_unique<Stream>(c);
  }

  // Resets `s` and keeps it, dropping the oldest idle stream when full.
  void give(std::unique_ptr<Stream> s) noexcept {
    if (!s) return;
    s->reset();
    if (idle_.size() == capacity) idle_.erase(idle_.begin());
    if (idle_.capacity() < capacity) {
      try {
        idle_.reserve(capacity);
      } catch (...) {
        return;  // s is freed
      }
    }
    idle_.push_back(std::move(s));
  }

  // Frees every idle stream.
  void clear() noexcept { idle_.clear(); }

  std::size_t size() const noexcept { return idle_.size(); }

 private:
  std::vector<std::unique_ptr<Stream>> idle_;
};

// Frees the idle streams of this thread's pools (for tests and benchmarks
// that measure what connections hold).
inline void clear_zlib_pools() noexcept {
  stream_pool<deflater>::local().clear();
  stream_pool<inflater>::local().clear();
}

// ---- Scratch buffer -------------------------------------------------------

// Where a thread's compressed or decompressed bytes land before they are
// copied into the frame. Its size is its usable length (growing it is the
// only time bytes are zeroed), shared by every connection on the thread, and
// shrunk after a message larger than `keep` so that one huge message doesn't
// pin memory for good.
class scratch_buffer {
 public:
  static constexpr std::size_t keep = (std::size_t{1} << 20) + 64 * 1024;

  static std::string& local() {
    thread_local std::string buffer;
    return buffer;
  }

  static void trim() {
    std::string& b = local();
    if (b.size() > keep) std::string().swap(b);
  }
};

}  // namespace websockets::detail
