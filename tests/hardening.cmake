# Hardening tests with real sockets on loopback: hostile and broken peers
# (test_hardening), and the multi-threaded ones (test_hardening_mt, label
# mt: the programs a ThreadSanitizer build runs).
websockets_add_test(test_hardening test_hardening.cpp)
websockets_add_test(test_hardening_mt test_hardening_mt.cpp LABELS mt)
