# Heap bytes per open idle connection (bench_memory_idle): see RESULTS.md.
add_executable(bench_memory_idle ${CMAKE_CURRENT_SOURCE_DIR}/memory_idle.cpp)
target_link_libraries(bench_memory_idle PRIVATE websockets::websockets websockets_project_flags)
