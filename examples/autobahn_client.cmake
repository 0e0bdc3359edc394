# autobahn_client URL AGENT: runs an Autobahn|Testsuite fuzzing server's cases.
add_executable(autobahn_client autobahn_client.cpp)
target_link_libraries(autobahn_client PRIVATE websockets::websockets websockets_project_flags)
