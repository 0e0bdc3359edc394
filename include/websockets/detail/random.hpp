// Random bytes from the kernel, for handshake keys and masking keys.
#pragma once

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <span>
#include <system_error>

namespace websockets::detail {

// Fills `out` with bytes from getrandom(2), the kernel's CSPRNG.
inline void fill_random(std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    done += static_cast<std::size_t>(n);
  }
}

// Hands out small random values (masking keys) from a refilled block, so
// that a client pays one getrandom(2) call per 64 frames, not one per frame.
class random_pool {
 public:
  template <std::size_t N>
  void draw(std::array<std::byte, N>& out) {
    static_assert(N <= block_size);
    if (used_ + N > block_size) {
      fill_random(block_);
      used_ = 0;
    }
    std::memcpy(out.data(), block_.data() + used_, N);
    used_ += N;
  }

 private:
  static constexpr std::size_t block_size = 256;
  std::array<std::byte, block_size> block_{};
  std::size_t used_ = block_size;
};

}  // namespace websockets::detail
