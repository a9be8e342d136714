// Every request and reply of the Ferry protocol as a typed struct, defined once and shared by server and client.
//
// docs/protocol.md is the reference; session_operations.h states the conventions the structs follow. The files:
//   - session_operations.h: hello, login, pwd, whoami, cd, quit, noop
//   - file_operations.h: stat, ls, mkdir, rmdir, rm, mv, setstat, quota, sum
//   - transfer_operations.h: put, data, put_close, put_abort, get and its head, data and tail frames
//   - exec_operations.h: exec, its start, output and end frames, exec_input, exec_kill
//   - directory_entry.h: the entry object of stat and ls
//   - reply_fields.h: strict reading of replies, OkReply(id, reply)
#pragma once

#include "protocol/directory_entry.h"
#include "protocol/exec_operations.h"
#include "protocol/file_operations.h"
#include "protocol/messages.h"
#include "protocol/reply_fields.h"
#include "protocol/session_operations.h"
#include "protocol/transfer_operations.h"
