{
  "targets": [
    {
      "target_name": "fd_splice",
      "sources": ["gateway/native/fd-splice.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
