# The conformance suite (tests/conformance/README.md): the Autobahn case list
# run by a driver of raw bytes against examples/echo_server (the server side)
# and against connect() (the client side).
if(WEBSOCKETS_BUILD_EXAMPLES)
  websockets_add_test(test_conformance_server test_conformance_server.cpp LABELS conformance)
  add_dependencies(test_conformance_server echo_server)
  target_compile_definitions(test_conformance_server PRIVATE
    ECHO_SERVER_PATH="$<TARGET_FILE:echo_server>")
endif()
websockets_add_test(test_conformance_client test_conformance_client.cpp LABELS conformance)
