{
  "target_defaults": {
    "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
  },
  "targets": [
    { "target_name": "fd_splice", "sources": ["gateway/native/fd-splice.c"] },
    { "target_name": "pty_reader", "sources": ["gateway/native/pty-reader.c"] }
  ]
}
