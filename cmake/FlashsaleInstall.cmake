# `cmake --install <build> --prefix P` lays out a host and its SDK:
#   P/bin/flashsale                    the host
#   P/bin/flashsale-admin              the dashboard (installed by admin-gui/, when built)
#   P/lib/flashsale/*.so               the in-tree plugins (flashsale_add_plugin installs each),
#                                      where the host looks by default (../lib/flashsale)
#   P/include/flashsale/sdk/*.hpp      the plugin SDK, testing.hpp included
#   P/lib/cmake/flashsale/             the CMake package: find_package(flashsale 0.1 CONFIG)
#                                      gives flashsale::sdk, flashsale_add_plugin() and the
#                                      host as the executable target flashsale::flashsale
# Included once from the top-level CMakeLists.txt, after the server and plugins folders.
include(CMakePackageConfigHelpers)

set(FLASHSALE_INSTALL_INCLUDEDIR include)
set(FLASHSALE_INSTALL_CMAKEDIR lib/cmake/flashsale)

install(TARGETS flashsale RUNTIME DESTINATION bin)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/server/include/flashsale/sdk/
        DESTINATION ${FLASHSALE_INSTALL_INCLUDEDIR}/flashsale/sdk
        FILES_MATCHING PATTERN "*.hpp")

# The installed flashsale::sdk repeats the in-tree target's usage requirements (server/
# CMakeLists.txt), read from it here so the two cannot drift; only the include folder differs.
# Its link libraries must come from the packages flashsaleConfig.cmake finds.
# The versions of the build id are set anew by the installed package (FlashsaleSdkVersions.cmake),
# where the plugin is built.
foreach(property COMPILE_DEFINITIONS COMPILE_FEATURES LINK_LIBRARIES)
  get_target_property(value flashsale_sdk INTERFACE_${property})
  if(NOT value)
    set(value "")
  endif()
  list(FILTER value EXCLUDE REGEX "^FLASHSALE_SDK_(VERSION|PROMETHEUS_VERSION)=")
  set(FLASHSALE_SDK_${property} "${value}")
endforeach()

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/flashsaleConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/flashsaleConfig.cmake
  INSTALL_DESTINATION ${FLASHSALE_INSTALL_CMAKEDIR}
  PATH_VARS FLASHSALE_INSTALL_INCLUDEDIR)
# The SDK version is the project version. Within a major version the package is compatible;
# the plugin ABI itself is checked exactly at load time (kAbiVersion, kBuildId).
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/flashsaleConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/flashsaleConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/flashsaleConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/FlashsalePlugin.cmake
              ${CMAKE_CURRENT_LIST_DIR}/FlashsaleSdkVersions.cmake
        DESTINATION ${FLASHSALE_INSTALL_CMAKEDIR})
