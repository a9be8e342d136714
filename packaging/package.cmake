# The Debian package (scripts/package): CPack's DEB generator installs this build with the prefix /usr and packs it
# with the maintainer scripts of packaging/debian/ (the system user ferry, the data root /var/lib/ferry, the unit).
# Its Depends: are what dpkg-shlibdeps finds the programs linked against, and adduser for the postinst.

# The Debian changelog and copyright go to /usr/share/doc/ferry, the changelog compressed as Debian's tools do.
file(STRINGS "${CMAKE_SOURCE_DIR}/packaging/debian/changelog" ferry_changelog_head LIMIT_COUNT 1)
if(NOT ferry_changelog_head MATCHES "^ferry \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "packaging/debian/changelog starts with '${ferry_changelog_head}': its first entry must be "
                      "for version ${PROJECT_VERSION} (project() in CMakeLists.txt)")
endif()
set(ferry_changelog_gz ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
add_custom_command(OUTPUT ${ferry_changelog_gz}
                   COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/packaging
                   COMMAND sh -c "gzip -9n -c \"$1\" > \"$2.tmp\" && mv \"$2.tmp\" \"$2\"" gzip
                           ${CMAKE_SOURCE_DIR}/packaging/debian/changelog ${ferry_changelog_gz}
                   DEPENDS ${CMAKE_SOURCE_DIR}/packaging/debian/changelog
                   COMMENT "Compressing the Debian changelog" VERBATIM)
add_custom_target(debian_changelog ALL DEPENDS ${ferry_changelog_gz})
install(FILES ${ferry_changelog_gz} packaging/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# CPack packs the build as it is (scripts/package builds first): its install does not build `all` again, which in
# the package test would rebuild programs other tests are running.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ferry)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "The Ferry authors")
set(CPACK_PACKAGE_CONTACT "Ferry maintainers <maintainers@ferry-project.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "multi-user file-transfer server and client (Ferry, FTP/FTPS, SFTP)")
# The summary is the synopsis; this, the long description.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "ferryd serves files to many users at once, each jailed in a home folder with
its own quota and permissions, over the Ferry protocol (TLS, checked and
resumable transfers), FTP and FTPS, and SSH (SFTP and SCP), with password and
public-key logins and an audit log. Programs users run on the server run in a
bubblewrap sandbox. The package runs ferryd as the system user ferry, on the
data root /var/lib/ferry (ferryd.service).

ferry is its client: one-shot commands, batches and an interactive shell.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
# Installs with DESTDIR: the unit and the logrotate snippet's absolute /etc then land in the package.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# exec's sandbox: without bubblewrap the server runs, and refuses exec.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "bubblewrap")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/packaging/debian/postinst;${CMAKE_SOURCE_DIR}/packaging/debian/prerm;${CMAKE_SOURCE_DIR}/packaging/debian/postrm;${CMAKE_SOURCE_DIR}/packaging/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
