# Two checks of the include/ layout (README, "Layering"):
#  - every header compiles on its own, included first in a file of its own
#    (self-contained): the object library header_self_contained;
#  - the sans-I/O headers, and everything under a detail/ folder, pull in
#    no Asio header at all: test header_check_sans_io lists what each one
#    includes (the compiler's -M) and fails on any Asio file.
# Once, in the plain build: sanitizers change nothing here.
if(NOT WEBSOCKETS_SANITIZE)
  set(_include_root ${PROJECT_SOURCE_DIR}/include)
  file(GLOB_RECURSE _all_headers CONFIGURE_DEPENDS RELATIVE ${_include_root}
       ${_include_root}/websockets/*.hpp)
  set(_sources)
  foreach(_header IN LISTS _all_headers)
    string(MAKE_C_IDENTIFIER ${_header} _name)
    set(_source ${CMAKE_CURRENT_BINARY_DIR}/header_check/${_name}.cpp)
    file(CONFIGURE OUTPUT ${_source} CONTENT "#include <${_header}>\n")
    list(APPEND _sources ${_source})
  endforeach()
  add_library(header_self_contained OBJECT ${_sources})
  target_link_libraries(header_self_contained PRIVATE websockets::websockets
                                                      websockets_project_flags)

  # The sans-I/O core: frames, protocol, handshake, HTTP, deflate and their
  # helpers.
  set(_sans_io
      websockets/client_check.hpp websockets/close_code.hpp websockets/connection_options.hpp
      websockets/exceptions.hpp websockets/extension_header.hpp websockets/frame.hpp
      websockets/handshake.hpp websockets/headers.hpp websockets/http.hpp websockets/message.hpp
      websockets/opening_handshake.hpp websockets/protocol.hpp websockets/server_accept.hpp
      websockets/uri.hpp websockets/utf8.hpp)
  foreach(_header IN LISTS _all_headers)
    if(_header MATCHES "/detail/" OR _header MATCHES "^websockets/extensions/")
      list(APPEND _sans_io ${_header})
    endif()
  endforeach()
  add_test(NAME header_check_sans_io
           COMMAND ${CMAKE_COMMAND} -DCXX=${CMAKE_CXX_COMPILER} -DINCLUDE_ROOT=${_include_root}
                   -DLLHTTP_INCLUDE_DIR=${LLHTTP_INCLUDE_DIR} "-DHEADERS=${_sans_io}"
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/header_check/sans_io.cmake)
  set_tests_properties(header_check_sans_io PROPERTIES PASS_REGULAR_EXPRESSION
                       "sans-I/O headers checked: [1-9]")
endif()
