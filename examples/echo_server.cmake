# echo_server HOST PORT: the conformance and benchmark target.
add_executable(echo_server echo_server.cpp)
target_link_libraries(echo_server PRIVATE websockets::websockets websockets_project_flags)
