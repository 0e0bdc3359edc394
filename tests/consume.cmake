# The three ways the README shows to consume the library, each built and run
# (not under sanitizers: this checks packaging, and builds without them).
if(NOT WEBSOCKETS_SANITIZE)
  foreach(_mode subdirectory package include)
    add_test(NAME consume_${_mode}
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/consume/consume.sh ${_mode} ${PROJECT_SOURCE_DIR})
    set_tests_properties(consume_${_mode} PROPERTIES LABELS consume TIMEOUT 600
                         PASS_REGULAR_EXPRESSION "echo received")
  endforeach()
endif()
