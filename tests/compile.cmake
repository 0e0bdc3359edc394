# The g++ < 13 guard of the entry points (include/websockets/detail/coawait_guard.hpp),
# both ways, and the check of Asio's co_await support (include/websockets/config.hpp).
#
# A compile test is a target outside `all` that ctest builds with
# `cmake --build`; compile/expect.cmake checks the outcome (and the message
# when it must fail). They take a lock: concurrent builds of one tree would
# race on the targets they share. Not under sanitizers: compiling is what
# they test.

# The guard's condition, as coawait_guard.hpp states it.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  set(WEBSOCKETS_COAWAIT_GUARD ON)
else()
  set(WEBSOCKETS_COAWAIT_GUARD OFF)
endif()

# websockets_compile_test(NAME SOURCE [EXPECT_ERROR regex] [BARE])
# BARE: only the include directories, none of the target's definitions.
function(websockets_compile_test name source)
  cmake_parse_arguments(ARG "BARE" "EXPECT_ERROR" "" ${ARGN})
  add_library(${name} OBJECT EXCLUDE_FROM_ALL ${source})
  target_link_libraries(${name} PRIVATE websockets_project_flags)
  if(ARG_BARE)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include ${ASIO_INCLUDE_DIR}
                                               ${LLHTTP_INCLUDE_DIR})
    target_compile_definitions(${name} PRIVATE ASIO_STANDALONE)
    target_compile_features(${name} PRIVATE cxx_std_20)
  else()
    target_link_libraries(${name} PRIVATE websockets::websockets)
  endif()
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -DBINARY_DIR=${PROJECT_BINARY_DIR} -DTARGET=${name}
                   -DCONFIG=$<CONFIG> "-DEXPECT_ERROR=${ARG_EXPECT_ERROR}"
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/compile/expect.cmake)
  set_tests_properties(${name} PROPERTIES LABELS compile TIMEOUT 600
                       RESOURCE_LOCK websockets_compile_tests)
endfunction()

if(NOT WEBSOCKETS_SANITIZE)
  websockets_compile_test(compile_safe_forms compile/safe_forms.cpp)
  if(WEBSOCKETS_COAWAIT_GUARD)
    set(_options_message "Declare the options in a variable first")
    set(_handler_message "Declare the handler in a variable first")
    foreach(_form serve_options unix_serve_options run_options connect_options
                  unix_connect_options moved_options)
      websockets_compile_test(compile_fail_${_form} compile/fail_${_form}.cpp
                              EXPECT_ERROR "${_options_message}")
    endforeach()
    websockets_compile_test(compile_fail_lambda_capture compile/fail_lambda_capture.cpp
                            EXPECT_ERROR "${_handler_message}")
  endif()
  # clang with libstdc++ is where Asio 1.22 lacks co_await unless told.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND NOT CMAKE_CXX_FLAGS MATCHES "-stdlib=libc\\+\\+")
    websockets_compile_test(compile_fail_missing_co_await compile/fail_missing_co_await.cpp BARE
                            EXPECT_ERROR "Define ASIO_HAS_CO_AWAIT and ASIO_HAS_STD_COROUTINE")
  endif()
endif()

# Where the guard is off, the forms it rejects must work: run them.
if(NOT WEBSOCKETS_COAWAIT_GUARD)
  websockets_add_test(test_inline_forms compile/inline_forms.cpp)
endif()
