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
    # What a user writing an op looks up is in the reference: BackwardContext::output(),
    # gradcheck's result type, and explain(f, inputs, names, check) with its arguments.
    set(_html ${MATGRAD_DOCS_OUTPUT}/html)
    add_test(NAME api_reference_findable COMMAND sh -c
      "grep -q 'own forward value' ${_html}/classmatgrad_1_1BackwardContext.html && grep -q 'max_error' ${_html}/structmatgrad_1_1GradcheckResult.html && grep -q 'Builds f on a fresh tape from variables named' ${_html}/namespacematgrad.html")
    set_tests_properties(api_reference PROPERTIES FIXTURES_SETUP api_reference_html)
    set_tests_properties(api_reference_findable PROPERTIES FIXTURES_REQUIRED api_reference_html)
  endif()
else()
  message(STATUS "doxygen not found: no matgrad_docs target (apt-get install doxygen)")
endif()
