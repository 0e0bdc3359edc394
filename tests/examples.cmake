# The example programs, run by test_examples as their users run them.
if(WEBSOCKETS_BUILD_EXAMPLES)
  websockets_add_test(test_examples test_examples.cpp LABELS examples)
  add_dependencies(test_examples echo_server client chat_server autobahn_client)
  target_compile_definitions(test_examples PRIVATE
    ECHO_SERVER_PATH="$<TARGET_FILE:echo_server>"
    CLIENT_PATH="$<TARGET_FILE:client>"
    CHAT_SERVER_PATH="$<TARGET_FILE:chat_server>"
    AUTOBAHN_CLIENT_PATH="$<TARGET_FILE:autobahn_client>")
endif()
