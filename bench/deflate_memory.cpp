// Memory held by permessage-deflate per connection, counted by the zlib
// allocator hooks: what an idle connection keeps after it has sent and
// received messages, for the default settings, for the maximum window and for
// no_context_takeover.
//
// Usage: bench_deflate_memory [connections]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "deflate_common.hpp"
#include "websockets/extensions/permessage_deflate.hpp"

using namespace websockets;
using namespace deflate_bench;

namespace {

struct negotiated {
  deflate_settings server;
  deflate_settings client;
};

// Runs the handshake of the two factories on the client's offer.
negotiated negotiate(const client_permessage_deflate& client,
                     const server_permessage_deflate& server) {
  auto [params, server_ext] = server.process_request_params(client.get_request_params(), {});
  auto client_ext = client.process_response_params(params, {});
  return {static_cast<permessage_deflate&>(*server_ext).settings(),
          static_cast<permessage_deflate&>(*client_ext).settings()};
}

// zlib bytes one idle end holds after a few messages each way, averaged
// over `n` connections. The peers' memory is freed before counting.
double idle_bytes(const deflate_settings& local, const deflate_settings& peer, int n) {
  detail::clear_zlib_pools();
  const std::size_t before = detail::zlib_bytes_in_use().load();
  std::vector<std::unique_ptr<permessage_deflate>> ends;
  for (int i = 0; i < n; ++i) {
    auto end = std::make_unique<permessage_deflate>(local);
    {
      permessage_deflate other(peer);
      for (int m = 0; m < 4; ++m) {
        auto in = data_frame(json_like(2000, static_cast<std::uint32_t>(i * 8 + m)));
        other.encode(in);
        end->decode(in, std::nullopt);
        auto out = data_frame(json_like(2000, static_cast<std::uint32_t>(i * 8 + m + 4)));
        end->encode(out);
        other.decode(out, std::nullopt);
      }
    }
    ends.push_back(std::move(end));
  }
  detail::clear_zlib_pools();
  const std::size_t held = detail::zlib_bytes_in_use().load();
  return static_cast<double>(held - before) / n;
}

void report(const char* what, const deflate_settings& local, const deflate_settings& peer, int n) {
  const double zlib = idle_bytes(local, peer, n);
  // The extension object and the two z_stream holders, on the heap too.
  const double own = sizeof(permessage_deflate) +
                     (local.local_no_context_takeover ? 0 : sizeof(detail::deflater)) +
                     (local.remote_no_context_takeover ? 0 : sizeof(detail::inflater));
  const int mem = local.mem_level ? local.mem_level : std::max(4, local.local_max_window_bits - 8);
  std::printf("%-50s send %2d bits, recv %2d bits, memLevel %d: %6.1f KiB zlib + %3.1f KiB own\n",
              what, local.local_max_window_bits, local.remote_max_window_bits, mem, zlib / 1024,
              own / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 64;
  std::printf(
      "permessage-deflate memory per idle connection (%d connections, after 4 messages "
      "each way)\n",
      n);

  const client_permessage_deflate default_client;
  const server_permessage_deflate default_server;
  const auto d = negotiate(default_client, default_server);
  report("server, defaults, client offers defaults", d.server, d.client, n);
  report("client, defaults, server answers defaults", d.client, d.server, n);

  // A browser-like offer without client_max_window_bits.
  const client_permessage_deflate bare_client({.offer_client_max_window_bits = false});
  const auto b = negotiate(bare_client, default_server);
  report("server, defaults, offer w/o client_max_window_bits", b.server, b.client, n);

  // The largest windows: automatic memLevel, then zlib's default and maximum.
  const server_permessage_deflate max_server(
      {.server_max_window_bits = std::nullopt, .client_max_window_bits = std::nullopt});
  const auto m = negotiate(default_client, max_server);
  report("server, 15-bit windows", m.server, m.client, n);
  for (int mem : {8, 9}) {
    deflate_settings s = m.server, c = m.client;
    s.mem_level = c.mem_level = mem;
    report("server, 15-bit windows", s, c, n);
  }

  // Contexts reset after every message: streams live in the thread's pool.
  const server_permessage_deflate nct_server(
      {.server_no_context_takeover = true, .client_no_context_takeover = true});
  const auto z = negotiate(default_client, nct_server);
  report("server, no_context_takeover both ways", z.server, z.client, n);

  std::printf("\nmemLevel and window sweep (one end keeping both contexts):\n");
  for (int bits : {10, 11, 12, 13, 15}) {
    for (int mem : {1, 2, 3, 4, 5, 8}) {
      deflate_settings s{
          .local_max_window_bits = bits, .remote_max_window_bits = bits, .mem_level = mem};
      deflate_settings p{
          .local_max_window_bits = bits, .remote_max_window_bits = bits, .mem_level = mem};
      report("  sweep", s, p, 8);
    }
  }
  return 0;
}
