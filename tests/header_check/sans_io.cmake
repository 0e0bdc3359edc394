# cmake -P: fails when one of HEADERS (relative to INCLUDE_ROOT) includes,
# directly or not, a file of Asio.
set(_count 0)
foreach(_header IN LISTS HEADERS)
  execute_process(
    COMMAND ${CXX} -std=c++20 -M -x c++ -I${INCLUDE_ROOT} -I${LLHTTP_INCLUDE_DIR}
            ${INCLUDE_ROOT}/${_header}
    OUTPUT_VARIABLE _deps ERROR_VARIABLE _errors RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${_header} doesn't compile on its own:\n${_errors}")
  endif()
  if(_deps MATCHES "[/ ](asio(/[^ \\\\]*|\\.hpp))")
    message(FATAL_ERROR "${_header} is sans-I/O but includes Asio (${CMAKE_MATCH_1})")
  endif()
  math(EXPR _count "${_count} + 1")
endforeach()
message("sans-I/O headers checked: ${_count}")
