websockets_add_test(test_utf8 test_utf8.cpp)
