websockets_add_test(test_http test_http.cpp)
