# client URI: an interactive client, like `python -m websockets URI`.
add_executable(client client.cpp)
target_link_libraries(client PRIVATE websockets::websockets websockets_project_flags)
