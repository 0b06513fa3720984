# flashsale_add_plugin(<kind> <name> SOURCES src... [LIBRARIES lib...] [OUTPUT_DIRECTORY dir])
#
# Builds plugin library flashsale_<kind>_<name>.so against the SDK (target flashsale::sdk).
# Undefined symbols fail the link, not the load.
#
# One definition serves both builds: the flashsale tree includes this file directly, and the
# installed package (find_package(flashsale)) includes its installed copy.
# - Output: OUTPUT_DIRECTORY if given; otherwise FLASHSALE_PLUGIN_OUTPUT_DIR (the flashsale
#   tree sets it to build/lib/flashsale, where the host finds plugins without settings), or
#   <your build folder>/lib/flashsale out of tree.
# - Install: a plugin built into that default folder is also installed, by `cmake --install`,
#   into <prefix>/lib/flashsale — beside an installed host's own plugins. A plugin given an
#   OUTPUT_DIRECTORY (test fixtures) is not installed.
function(flashsale_add_plugin kind name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "flashsale_add_plugin(${kind} ${name}): SOURCES is required")
  endif()
  set(target flashsale_${kind}_${name})
  set(install_it OFF)
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(install_it ON)
    if(FLASHSALE_PLUGIN_OUTPUT_DIR)
      set(ARG_OUTPUT_DIRECTORY ${FLASHSALE_PLUGIN_OUTPUT_DIR})
    else()
      set(ARG_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib/flashsale)
    endif()
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE flashsale::sdk ${ARG_LIBRARIES})
  target_link_options(${target} PRIVATE LINKER:--no-undefined)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(install_it)
    install(TARGETS ${target} LIBRARY DESTINATION lib/flashsale)
  endif()
endfunction()
