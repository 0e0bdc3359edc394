# Micro-benchmarks (Google Benchmark) of the frame codec, masking and UTF-8
# validation: micro_mask, micro_utf8, micro_frame. Results in RESULTS.md.
find_package(benchmark REQUIRED)
foreach(_micro mask utf8 frame)
  add_executable(micro_${_micro} ${CMAKE_CURRENT_SOURCE_DIR}/micro_${_micro}.cpp)
  target_link_libraries(micro_${_micro} PRIVATE websockets::websockets benchmark::benchmark
                                                websockets_project_flags)
endforeach()
