// websocketpp 0.8.2's echo server for the side-by-side benchmarks: its asio
// transport (on Boost.Asio) without TLS, one io thread, logging off, every
// message sent back with its opcode, as websocketpp's own echo example does.
//
//   bench_websocketpp_echo PORT [--deflate]
//
// --deflate serves with a config that has websocketpp's permessage-deflate
// extension enabled (zlib, its defaults: 15-bit windows, zlib's default
// level).
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/extensions/permessage_deflate/enabled.hpp>
#include <websocketpp/server.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace {

// The stock asio config, with permessage-deflate enabled.
struct deflate_config : websocketpp::config::asio {
  using type = deflate_config;
  using base = websocketpp::config::asio;

  using concurrency_type = base::concurrency_type;
  using request_type = base::request_type;
  using response_type = base::response_type;
  using message_type = base::message_type;
  using con_msg_manager_type = base::con_msg_manager_type;
  using endpoint_msg_manager_type = base::endpoint_msg_manager_type;
  using alog_type = base::alog_type;
  using elog_type = base::elog_type;
  using rng_type = base::rng_type;

  struct transport_config : base::transport_config {
    using concurrency_type = type::concurrency_type;
    using alog_type = type::alog_type;
    using elog_type = type::elog_type;
    using request_type = type::request_type;
    using response_type = type::response_type;
    using socket_type = websocketpp::transport::asio::basic_socket::endpoint;
  };
  using transport_type = websocketpp::transport::asio::endpoint<transport_config>;

  struct permessage_deflate_config {};
  using permessage_deflate_type =
      websocketpp::extensions::permessage_deflate::enabled<permessage_deflate_config>;
};

template <class Config>
int serve(unsigned short port) {
  using server = websocketpp::server<Config>;
  server s;
  s.clear_access_channels(websocketpp::log::alevel::all);
  s.clear_error_channels(websocketpp::log::elevel::all);
  s.init_asio();
  s.set_reuse_addr(true);
  s.set_listen_backlog(4096);
  s.set_max_message_size(64 * 1024 * 1024);
  s.set_tcp_post_init_handler([&s](websocketpp::connection_hdl hdl) {
    boost::system::error_code ec;
    s.get_con_from_hdl(hdl)->get_socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);
  });
  s.set_message_handler([&s](websocketpp::connection_hdl hdl, typename server::message_ptr msg) {
    websocketpp::lib::error_code ec;
    s.send(hdl, msg->get_payload(), msg->get_opcode(), ec);
  });
  s.listen(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  s.start_accept();
  // SIGINT and SIGTERM end the process normally, so that profilers write their reports.
  boost::asio::signal_set signals(s.get_io_service(), SIGINT, SIGTERM);
  signals.async_wait([&s](const boost::system::error_code&, int) { s.stop(); });
  s.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [--deflate]\n", argv[0]);
    return 2;
  }
  const auto port = static_cast<unsigned short>(std::strtol(argv[1], nullptr, 10));
  bool deflate = false;
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--deflate") {
      deflate = true;
    } else {
      std::fprintf(stderr, "bench_websocketpp_echo: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  try {
    return deflate ? serve<deflate_config>(port) : serve<websocketpp::config::asio>(port);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_websocketpp_echo: %s\n", e.what());
    return 1;
  }
}
