# The versions the plugin SDK's build id carries (flashsale/sdk/plugin.hpp, kBuildId), as compile
# definitions of the SDK target: the SDK's own (fixed when it is installed), and prometheus-cpp's,
# found wherever a plugin is built (in this tree, or out of tree against the installed SDK), so a
# plugin built against another prometheus-cpp is refused at load time. prometheus-cpp installs no
# CMake version file; its pkg-config file beside its CMake package says the version.
#   flashsale_sdk_versions(<target> <sdk version>)
function(flashsale_sdk_versions target sdk_version)
  find_package(prometheus-cpp CONFIG REQUIRED)
  set(pc ${prometheus-cpp_DIR}/../../pkgconfig/prometheus-cpp-core.pc)
  set(version unknown)
  if(EXISTS ${pc})
    file(STRINGS ${pc} line REGEX "^Version: ")
    string(REGEX REPLACE "^Version: *" "" version "${line}")
  endif()
  set_property(TARGET ${target} APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS
    FLASHSALE_SDK_VERSION="${sdk_version}" FLASHSALE_SDK_PROMETHEUS_VERSION="${version}")
endfunction()
