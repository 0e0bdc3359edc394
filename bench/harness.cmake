# The side-by-side benchmark harness (bench/run.sh runs it; ctest never
# does): our load generator and the peer echo servers it is pointed at.
#   bench_loadgen           the WebSocket load generator, straight on epoll
#   bench_raw_echo          raw TCP echo on standalone Asio: the ceiling
#   bench_beast_echo        Boost.Beast echo (needs libboost-dev)
#   bench_websocketpp_echo  websocketpp echo (needs libwebsocketpp-dev)
# Node's ws echo is bench/servers/node/echo_server.js.

add_executable(bench_loadgen ${CMAKE_CURRENT_SOURCE_DIR}/loadgen/main.cpp)
target_link_libraries(bench_loadgen PRIVATE websockets::websockets websockets_project_flags)

add_executable(bench_raw_echo ${CMAKE_CURRENT_SOURCE_DIR}/servers/raw_echo.cpp)
target_link_libraries(bench_raw_echo PRIVATE asio::asio Threads::Threads websockets_project_flags)

find_package(Boost 1.74 QUIET)
if(Boost_FOUND)
  add_executable(bench_beast_echo ${CMAKE_CURRENT_SOURCE_DIR}/servers/beast_echo.cpp)
  target_link_libraries(bench_beast_echo PRIVATE Boost::headers Threads::Threads
                                                 websockets_project_flags)

  find_path(WEBSOCKETPP_INCLUDE_DIR websocketpp/server.hpp)
  if(WEBSOCKETPP_INCLUDE_DIR)
    add_executable(bench_websocketpp_echo ${CMAKE_CURRENT_SOURCE_DIR}/servers/websocketpp_echo.cpp)
    target_include_directories(bench_websocketpp_echo SYSTEM PRIVATE ${WEBSOCKETPP_INCLUDE_DIR})
    target_link_libraries(bench_websocketpp_echo PRIVATE Boost::headers ZLIB::ZLIB Threads::Threads
                                                         websockets_project_flags)
  else()
    message(STATUS "websocketpp not found: bench_websocketpp_echo is not built")
  endif()
else()
  message(STATUS "Boost not found: bench_beast_echo and bench_websocketpp_echo are not built")
endif()

foreach(_harness_target bench_raw_echo bench_beast_echo)
  if(TARGET ${_harness_target})
    target_compile_features(${_harness_target} PRIVATE cxx_std_20)
  endif()
endforeach()
# websocketpp 0.8.2 doesn't compile as C++20 (its constructors are written
# as template-ids, which C++20 forbids): C++17 it is.
if(TARGET bench_websocketpp_echo)
  set_target_properties(bench_websocketpp_echo PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
endif()
