#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/ (run from the repository root; the files are committed).

Seeds are real protocol exchanges (docs/protocol.md) and a few malformed frames, in each target's input format."""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def frame(header, body=b""):
    if body:
        header = dict(header, body_len=len(body))
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack(">I", len(text)) + text + body


def raw(text, body=b""):
    return struct.pack(">I", len(text)) + text + body


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


HELLO = frame({"op": "hello", "id": 0, "versions": [1], "client": "ferry 0.1.0"})
LOGIN = frame({"op": "login", "id": 1, "user": "alice", "password": "alice-secret"})
LOGIN_BAD = frame({"op": "login", "id": 1, "user": "alice", "password": "wrong"})
LS = frame({"op": "ls", "id": 2, "path": "/"})
PUT = (frame({"op": "put", "id": 3, "path": "docs/a.txt", "size": 5, "mode": 420, "mtime": 1763932800,
              "mtime_nsec": 0, "algo": "xxh3", "resume": False})
       + frame({"op": "data", "ref": 3}, b"hello")
       + frame({"op": "put_close", "id": 4, "ref": 3, "checksum": "0" * 32}))
GET = frame({"op": "get", "id": 5, "path": "docs/a.txt", "offset": 0, "algo": "sha256"})
MISC = b"".join(frame(h) for h in [
    {"op": "mkdir", "id": 6, "path": "x/y", "parents": True},
    {"op": "mv", "id": 7, "from": "x", "to": "z", "overwrite": True},
    {"op": "stat", "id": 8, "path": "../../etc/passwd"},
    {"op": "cd", "id": 9, "path": ".."},
    {"op": "rm", "id": 10, "path": "z", "recursive": True},
    {"op": "sum", "id": 11, "path": "docs/a.txt", "algo": "md5", "length": 3},
    {"op": "setstat", "id": 12, "path": "docs/a.txt", "mode": 4095, "mtime": -1},
    {"op": "quota", "id": 13},
    {"op": "exec", "id": 14, "argv": ["ls", "-l"], "shell": False},
    {"op": "quit", "id": 15},
])
SESSION = HELLO + LOGIN + LS + PUT + GET + MISC

MALFORMED = {
    "header_too_big": struct.pack(">I", 0xFFFFFFFF) + b"{}",
    "header_too_short": struct.pack(">I", 1) + b"{",
    "not_json": raw(b"{not json}"),
    "not_object": raw(b"[1,2,3]"),
    "deep": raw(b"[" * 40 + b"]" * 40),
    "deep_in_object": raw(b'{"a":' + b"[" * 20 + b"]" * 20 + b"}"),
    "brackets_in_string": raw(b'{"a":"[[[[[[[[[[[[[[[[[[[[[[\\"["}'),
    "body_len_negative": raw(b'{"op":"data","body_len":-1}'),
    "body_len_float": raw(b'{"op":"data","body_len":1.5}'),
    "body_len_string": raw(b'{"op":"data","body_len":"5"}'),
    "body_len_huge": raw(b'{"op":"data","body_len":18446744073709551615}'),
    "body_len_over": raw(b'{"op":"data","body_len":18446744073709551616}'),
    "duplicate_body_len": raw(b'{"body_len":1,"body_len":3}', b"abc"),
    "bad_utf8": raw(b'{"path":"\xff\xfe"}'),
    "escaped_nul": raw(b'{"path":"a\\u0000b","id":1,"op":"stat"}'),
    "surrogate": raw(b'{"path":"\\ud800"}'),
    "float_exponent": raw(b'{"id":1e308,"x":-0.0,"y":1E-400}'),
    "truncated_body": raw(b'{"op":"data","ref":3,"body_len":10}', b"abc"),
    "empty_object_then_garbage": raw(b"{}") + b"\x00\x00",
}


def main():
    fd = "frame_decoder_fuzz"
    # Settings: byte 0 picks the limits (24: the server's 64 KiB header and 4 MiB body; 0: the smallest), byte 1
    # the depth (15: 16 levels), bytes 2-3 the cut points.
    for name, stream in [("hello", HELLO), ("login", HELLO + LOGIN), ("ls", LS), ("put", PUT), ("get", GET),
                         ("session", SESSION)]:
        write(fd, name, bytes([24, 15, 1, 0]) + stream)
    write(fd, "session_small_limits", bytes([7, 3, 9, 9]) + SESSION)
    for name, stream in MALFORMED.items():
        write(fd, "bad_" + name, bytes([24, 15, 3, 0]) + HELLO + stream)

    hd = "home_dir_fuzz"
    write(hd, "escapes", b"\n".join([
        b"p../../../etc/passwd", b"s/../outside/secret", b"orel/secret", b"sabs_secret", b"odir/up",
        b"P/rel/secret", b"ldotdot", b"lrel", b"rroot/..", b"r/dir/sub/back/sub/back", b"pmagic", b"pmagic_fd/..",
        b"nloop", b"sloop/x", b"ofifo", b"wabs/new", b"wrel/new", b"wdir/up"]))
    write(hd, "changes", b"\n".join([
        b"Mrel/x/y", b"Mabs/x", b"mdotdot/x", b"Xrel", b"Xdir", b"x/", b"R..", b"vrel\tdir", b"Va.txt\tdir/up",
        b"vdir\tdir/sub", b"Vdir/b.txt\t/", b"crel", b"cabs_secret", b"croot", b"c/", b"Mdir/sub/back/n",
        b"Xdir/sub/back"]))
    write(hd, "lexical", b"\n".join([b"j", b"j/", b"j./.", b"j//a//./", b"ja/..", b"j..", b"j/./.", b"ja/b/."]))

    sf = "session_fuzz"
    hello = '{"op":"hello","id":0,"versions":[1],"client":"ferry 0.1.0"}'
    login = '{"op":"login","id":1,"user":"alice","password":"alice-secret"}'

    def lines(*records):
        return "\n".join(records).encode()

    write(sf, "browse", lines(hello, login, '{"op":"pwd","id":2}', '{"op":"ls","id":3,"path":"/"}',
                              '{"op":"cd","id":4,"path":"dir"}', '{"op":"stat","id":5,"path":"b.bin"}',
                              '{"op":"cd","id":6,"path":"../root/.."}', '{"op":"stat","id":7,"path":"to_bob"}',
                              '{"op":"quota","id":8}', '{"op":"whoami","id":9}', '{"op":"quit","id":10}'))
    write(sf, "upload", lines(hello, login,
                              '{"op":"put","id":5,"path":"new.txt","size":5,"mode":420,"mtime":1763932800}',
                              '{"op":"data","ref":5}\thello',
                              '{"op":"put_close","id":6,"ref":5,"checksum":"' + "0" * 32 + '"}',
                              '{"op":"put","id":7,"path":"dir/r.txt","size":3,"resume":true}',
                              '{"op":"data","ref":7}\tabcd', '{"op":"put_close","id":8,"ref":7,"checksum":"x"}',
                              '{"op":"put","id":9,"path":"to_bob","size":1}', '{"op":"put_abort","ref":9,"id":10}'))
    write(sf, "download", lines(hello, login, '{"op":"get","id":2,"path":"a.txt"}',
                                '{"op":"get","id":3,"path":"dir/b.bin","offset":69999,"algo":"sha256"}',
                                '{"op":"sum","id":4,"path":"a.txt","algo":"md5","length":3}',
                                '{"op":"get","id":5,"path":"fifo"}', '{"op":"sum","id":6,"path":"abs_bob"}'))
    write(sf, "change", lines(hello, login, '{"op":"mkdir","id":2,"path":"x/y/z","parents":true}',
                              '{"op":"mv","id":3,"from":"a.txt","to":"x/y","overwrite":true}',
                              '{"op":"setstat","id":4,"path":"x","mode":4095,"mtime":0,"mtime_nsec":999999999}',
                              '{"op":"rm","id":5,"path":"x","recursive":true}', '{"op":"rmdir","id":6,"path":"dir"}',
                              '{"op":"rm","id":7,"path":"root/..","recursive":true}',
                              '{"op":"mv","id":8,"from":"to_bob","to":"/"}', '{"op":"exec","id":9,"argv":["ls"]}'))
    write(sf, "read_only", lines(hello, '{"op":"login","id":1,"user":"bob","password":"bob-secret"}',
                                 '{"op":"put","id":2,"path":"p","size":1}', '{"op":"data","ref":2}\tp',
                                 '{"op":"put_close","id":3,"ref":2,"checksum":"x"}',
                                 '{"op":"rm","id":4,"path":"secret"}'))
    write(sf, "bad_login", lines(hello, '{"op":"ls","id":1}',
                                 '{"op":"login","id":2,"user":"alice","password":"wrong"}',
                                 '{"op":"login","id":3,"user":"nobody","password":"x"}',
                                 '{"op":"login","id":4,"user":"alice","password":7}',
                                 '{"op":"login","id":5,"user":"alice","password":"alice-secret"}'))
    write(sf, "bad_frames", lines(hello, login, '{"op":"stat","id":-1}', '{"op":"nope","id":2}',
                                  '{"op":"stat","id":3,"path":"a\\u0000b"}', '{"id":4}',
                                  '{"op":"data","ref":99}\tx', '[1]'))
    write(sf, "raw", b"RAW\n" + HELLO + LOGIN + LS + PUT + GET + MISC)


if __name__ == "__main__":
    main()
