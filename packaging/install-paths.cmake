# Run by `cmake --install` and by CPack when they install: what names paths of the installation is made for the
# prefix of that install, not the one configured (CPack installs with the prefix /usr; `cmake --install --prefix`
# with another). DESTDIR, when set, is a staging folder the installation is put in.
#
# Set before this runs (CMakeLists.txt): FERRY_SOURCE_DIR, FERRY_SBINDIR_SETTING and FERRY_SYSCONFDIR_SETTING
# (CMAKE_INSTALL_SBINDIR and CMAKE_INSTALL_SYSCONFDIR as configured: relative to the prefix, or absolute).

# A folder of this install as GNUInstallDirs makes its CMAKE_INSTALL_FULL_<dir>: an absolute setting as it is, else
# under the prefix ("/" adds no second slash). A system folder (`system`: sysconfdir) is /etc itself for the prefixes /
# and /usr, and /etc/opt/<pkg> for /opt/<pkg>.
function(ferry_full_dir out setting system)
  if(IS_ABSOLUTE "${setting}")
    set(dir "${setting}")
  elseif(system AND (CMAKE_INSTALL_PREFIX STREQUAL "/" OR CMAKE_INSTALL_PREFIX STREQUAL "/usr"))
    set(dir "/${setting}")
  elseif(system AND CMAKE_INSTALL_PREFIX MATCHES "^/opt/([^/]+)/?$")
    set(dir "/${setting}/opt/${CMAKE_MATCH_1}")
  elseif(CMAKE_INSTALL_PREFIX STREQUAL "/")
    set(dir "/${setting}")
  else()
    set(dir "${CMAKE_INSTALL_PREFIX}/${setting}")
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()
ferry_full_dir(sysconfdir "${FERRY_SYSCONFDIR_SETTING}" TRUE)
ferry_full_dir(FERRY_SBINDIR "${FERRY_SBINDIR_SETTING}" FALSE)

# The systemd unit, whose ExecStart names the installed ferryd: in /lib/systemd/system for the prefixes / and /usr
# (where Debian 12's systemd.pc puts system units), else under the prefix.
if(CMAKE_INSTALL_PREFIX STREQUAL "/" OR CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(unit_dir "/lib/systemd/system")
else()
  set(unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
set(unit "$ENV{DESTDIR}${unit_dir}/ferryd.service")
message(STATUS "Installing: ${unit}")
configure_file("${FERRY_SOURCE_DIR}/packaging/ferryd.service.in" "${unit}" @ONLY)
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${unit_dir}/ferryd.service")

# The logrotate snippet, in the system's configuration folder.
# file(INSTALL) puts DESTDIR before the destination itself (configure_file above does not).
file(INSTALL "${FERRY_SOURCE_DIR}/packaging/ferryd.logrotate" DESTINATION "${sysconfdir}/logrotate.d" RENAME ferryd)
