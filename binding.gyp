{
  "target_defaults": {
    "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "include_dirs": ["core/native"]
  },
  "targets": [
    { "target_name": "fd_splice", "sources": ["gateway/native/fd-splice.c"] },
    { "target_name": "pty_reader", "sources": ["agent/native/pty-reader.c"] }
  ]
}
