# flashsale_add_plugin(<kind> <name> SOURCES src... [LIBRARIES lib...] [OUTPUT_DIRECTORY dir])
#
# Builds plugin library flashsale_<kind>_<name>.so against the SDK, into lib/flashsale/ where
# the host finds it without settings. Undefined symbols fail the link, not the load.
function(flashsale_add_plugin kind name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  set(target flashsale_${kind}_${name})
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${FLASHSALE_PLUGIN_OUTPUT_DIR})
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE flashsale::sdk ${ARG_LIBRARIES})
  target_link_options(${target} PRIVATE LINKER:--no-undefined)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
endfunction()
