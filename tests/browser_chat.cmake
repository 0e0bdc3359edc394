# The chat example driven by headless Chromium (tests/browser/cdp_drive.js).
if(WEBSOCKETS_BUILD_EXAMPLES)
  websockets_add_test(test_browser_chat test_browser_chat.cpp LABELS browser)
  add_dependencies(test_browser_chat chat_server)
  target_compile_definitions(test_browser_chat PRIVATE
    CHAT_SERVER_PATH="$<TARGET_FILE:chat_server>")
endif()
