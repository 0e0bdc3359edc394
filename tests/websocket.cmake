websockets_add_test(test_websocket test_websocket.cpp LABELS mt)
