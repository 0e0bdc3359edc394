# Builds one compile test's target (see tests/compile.cmake) and checks the
# outcome: success, or, with EXPECT_ERROR, a failure whose output matches it.
#
#   cmake -DBINARY_DIR=dir -DTARGET=name [-DCONFIG=c] [-DEXPECT_ERROR=regex] -P expect.cmake
set(_config)
if(CONFIG)
  set(_config --config ${CONFIG})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --target ${TARGET} ${_config}
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(EXPECT_ERROR)
  if(result EQUAL 0)
    message(FATAL_ERROR "${TARGET} compiled; it must fail with \"${EXPECT_ERROR}\"")
  endif()
  if(NOT output MATCHES "${EXPECT_ERROR}")
    message(FATAL_ERROR "${TARGET} failed without \"${EXPECT_ERROR}\":\n${output}")
  endif()
  message(STATUS "${TARGET} failed to compile as it must: \"${EXPECT_ERROR}\"")
elseif(NOT result EQUAL 0)
  message(FATAL_ERROR "${TARGET} doesn't compile:\n${output}")
endif()
