# permessage-deflate micro-benchmarks: memory per connection (zlib allocator
# hooks) and compression throughput.
foreach(_deflate_bench deflate_memory deflate_throughput)
  add_executable(bench_${_deflate_bench} ${CMAKE_CURRENT_SOURCE_DIR}/${_deflate_bench}.cpp)
  target_link_libraries(bench_${_deflate_bench} PRIVATE websockets::websockets
                                                        websockets_project_flags)
endforeach()
