# The API reference: `cmake --build build --target matgrad_docs` writes build/docs/html/index.html
# from the public headers' comments. With tests on, the api_reference test runs the same Doxygen
# and fails on any warning, e.g. a public symbol without a comment.
find_package(Doxygen QUIET)
if(DOXYGEN_FOUND)
  set(MATGRAD_DOCS_OUTPUT ${PROJECT_BINARY_DIR}/docs)
  configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${PROJECT_BINARY_DIR}/Doxyfile @ONLY)
  add_custom_target(matgrad_docs
    COMMAND Doxygen::doxygen ${PROJECT_BINARY_DIR}/Doxyfile
    COMMENT "API reference: ${MATGRAD_DOCS_OUTPUT}/html/index.html"
    VERBATIM)
  if(MATGRAD_BUILD_TESTS)
    add_test(NAME api_reference COMMAND Doxygen::doxygen ${PROJECT_BINARY_DIR}/Doxyfile)
  endif()
else()
  message(STATUS "doxygen not found: no matgrad_docs target (apt-get install doxygen)")
endif()
