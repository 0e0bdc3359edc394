// Must not compile with clang and libstdc++ when Asio is included without
// ASIO_HAS_CO_AWAIT: include/websockets/config.hpp stops with a message that
// says what to define. tests/compile.cmake builds it without the
// definitions the CMake target adds.
#include <asio.hpp>
#include <websockets/websockets.hpp>

int main() {}
