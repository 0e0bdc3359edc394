// The whole library in one include:
//
//   #include <websockets/websockets.hpp>
//
// serve() and connect() for servers and clients (server.hpp, client.hpp),
// basic_websocket<Stream> for a connection over any Asio stream
// (websocket.hpp), the opening handshake on its own (server_handshake.hpp,
// client_handshake.hpp, handshake.hpp, http.hpp), the frame codec and
// permessage-deflate. test_stream.hpp (an in-memory stream for tests) is
// included on its own, by the tests that use it.
#pragma once

#include "websockets/any_stream.hpp"
#include "websockets/client.hpp"
#include "websockets/client_check.hpp"
#include "websockets/client_handshake.hpp"
#include "websockets/connection_options.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/extension_header.hpp"
#include "websockets/extensions/extension.hpp"
#include "websockets/extensions/permessage_deflate.hpp"
#include "websockets/frame.hpp"
#include "websockets/handshake.hpp"
#include "websockets/headers.hpp"
#include "websockets/http.hpp"
#include "websockets/http_io.hpp"
#include "websockets/message.hpp"
#include "websockets/opening_handshake.hpp"
#include "websockets/options.hpp"
#include "websockets/protocol.hpp"
#include "websockets/server.hpp"
#include "websockets/server_accept.hpp"
#include "websockets/server_handshake.hpp"
#include "websockets/uri.hpp"
#include "websockets/utf8.hpp"
#include "websockets/websocket.hpp"
