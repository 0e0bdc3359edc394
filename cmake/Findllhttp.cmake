# Finds the llhttp C sources that Debian's node-llhttp package ships and
# builds them into a small static library, llhttp::llhttp.
#
#   LLHTTP_SOURCE_DIR   folder with api.c, http.c, llhttp.c (/usr/share/llhttp)
#   LLHTTP_INCLUDE_DIR  folder with llhttp.h (/usr/share/include/llhttp)
if(TARGET llhttp::llhttp)
  set(llhttp_FOUND TRUE)
  return()
endif()

find_path(LLHTTP_INCLUDE_DIR llhttp.h
  HINTS /usr/share/include/llhttp /usr/local/share/include/llhttp /usr/include/llhttp)
find_path(LLHTTP_SOURCE_DIR llhttp.c
  HINTS /usr/share/llhttp /usr/local/share/llhttp)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(llhttp
  REQUIRED_VARS LLHTTP_SOURCE_DIR LLHTTP_INCLUDE_DIR
  FAIL_MESSAGE "llhttp not found: install Debian's node-llhttp package (apt-get install node-llhttp), which ships the C sources in /usr/share/llhttp and the header in /usr/share/include/llhttp, or set LLHTTP_SOURCE_DIR and LLHTTP_INCLUDE_DIR")

if(llhttp_FOUND)
  add_library(llhttp STATIC
    ${LLHTTP_SOURCE_DIR}/api.c
    ${LLHTTP_SOURCE_DIR}/http.c
    ${LLHTTP_SOURCE_DIR}/llhttp.c)
  set_target_properties(llhttp PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    C_STANDARD 99
    EXPORT_NAME llhttp)
  # Third-party C: build it quietly whatever the project's warning flags.
  target_compile_options(llhttp PRIVATE -w)
  target_include_directories(llhttp PUBLIC
    $<BUILD_INTERFACE:${LLHTTP_INCLUDE_DIR}>
    $<INSTALL_INTERFACE:include/llhttp>)
  add_library(llhttp::llhttp ALIAS llhttp)
endif()
