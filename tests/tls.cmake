websockets_add_test(test_tls test_tls.cpp)
