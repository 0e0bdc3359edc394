# The three ways the README shows to consume the library, each built and run
# (not under sanitizers: this checks packaging, and builds without them).
# Each with this build's compilers and flags, and again with clang-16 when
# the build uses another compiler (cheap: they are tiny).
function(websockets_add_consume_tests suffix cc cxx cxxflags ldflags)
  foreach(_mode subdirectory package include)
    add_test(NAME consume_${_mode}${suffix}
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/consume/consume.sh ${_mode} ${PROJECT_SOURCE_DIR})
    set_tests_properties(consume_${_mode}${suffix} PROPERTIES LABELS consume TIMEOUT 600
                         PASS_REGULAR_EXPRESSION "echo received"
                         ENVIRONMENT "CC=${cc};CXX=${cxx};CXXFLAGS=${cxxflags};LDFLAGS=${ldflags}")
  endforeach()
endfunction()

if(NOT WEBSOCKETS_SANITIZE)
  websockets_add_consume_tests("" "${CMAKE_C_COMPILER}" "${CMAKE_CXX_COMPILER}"
                               "${CMAKE_CXX_FLAGS}" "${CMAKE_EXE_LINKER_FLAGS}")
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    find_program(WEBSOCKETS_CLANG_CC clang-16)
    find_program(WEBSOCKETS_CLANG_CXX clang++-16)
    if(WEBSOCKETS_CLANG_CC AND WEBSOCKETS_CLANG_CXX)
      websockets_add_consume_tests(_clang "${WEBSOCKETS_CLANG_CC}" "${WEBSOCKETS_CLANG_CXX}" "" "")
    endif()
  endif()
endif()
