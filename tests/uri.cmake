websockets_add_test(test_uri test_uri.cpp)
