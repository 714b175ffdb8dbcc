import { BAZEL_POLICY_INIT_TEXT } from './bazel-policy.js';
import { OUTBOUND_INIT_TEXT } from './outbound.js';

/** The commented larder.toml that `larder init` writes; it loads back to the defaults. */
export function initConfigText(): string {
  return `# Larder configuration. Every key is optional; the values below are the defaults.
# Relative paths are resolved against this file's directory.
# LARDER_* environment variables (LARDER_LISTEN, LARDER_DATA, LARDER_TLS_MODE, ...)
# and command-line options override what is set here.

# Address to listen on, HOST:PORT ("[::1]:8080" for IPv6, "0.0.0.0:8080" for every interface).
listen = "127.0.0.1:8080"

# Where packages and the sqlite database are stored.
data = "./larder-data"

# "sqlite" (DATA/larder.db), "sqlite:PATH", or "postgres://user:pass@host:5432/db".
database = "sqlite"

# Where archives are stored: "fs" (data/blobs) or S3-compatible storage shared by several nodes,
# e.g. "s3://bucket/larder?endpoint=https://minio.example&region=us-east-1&path_style=true"
# (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
blobs = "fs"

# External base URL, e.g. "https://larder.example" when behind a reverse proxy.
# Empty: derived from each request's Host header.
public_url = ""

# fatal, error, warn, info, debug, trace or silent.
log_level = "info"

# Server processes sharing the port: 1, a number, or "auto" (one per CPU).
workers = 1

[tls]
# "off", "self-signed" (a certificate generated for you) or "files" (cert and key below).
mode = "off"
# PEM files, required with mode = "files".
cert = ""
key = ""
# Extra host names for the self-signed certificate.
hostnames = []

[limits]
# Sizes are a number of bytes or a number with a unit: KB, KiB, MB, MiB, GB, GiB.
max_crate_size = "10MiB"
max_unpacked_size = "512MiB"
max_archive_entries = 20000
max_metadata_size = "1MiB"
# Largest Bazel source archive a publish may upload (or Larder may download to verify).
max_archive_size = "100MiB"

${OUTBOUND_INIT_TEXT}
[timeouts]
# How long a client may keep a connection or a request waiting: a duration ("30s", "5m") or
# a number of seconds; 0 turns one off.
# A connection with no request in flight (HTTP/1.1 keep-alive, an HTTP/2 session without streams).
idle = "60s"
# Receiving a request's headers (HTTP/1.1).
headers = "30s"
# An upload whose body stops arriving for this long is answered 408 (HTTP/2: and reset).
body_idle = "30s"
# Receiving a whole request, body included; downloads are never cut while data flows.
request = "5m"
# On SIGTERM (systemd stop, a Kubernetes rollout): /-/readyz answers 503 for \`drain\` while requests are
# still served, so a load balancer takes the node out; then in-flight requests get up to \`shutdown\`
# to finish before their connections are closed. SIGINT (Ctrl-C) skips the drain.
drain = "5s"
shutdown = "30s"

[http2]
# What the TLS server's HTTP/2 connections allow (plain HTTP is HTTP/1.1 only).
# Requests one connection may have in flight at once; a client queues the rest (nginx's default, 128).
max_concurrent_streams = 128
# Request body bytes a client may send ahead of the server's reading, per request and per connection: an
# upload goes at most this much per round trip (the protocol's default, 64KiB, is 1.3 MB/s at 50 ms).
window = "1MiB"

[uploads]
# Request bodies the server holds in memory at once, over all repositories (per process with
# workers > 1). An upload reserves its Content-Length before its body is read; when the budget
# is taken it waits up to \`wait\`, then gets 503 with Retry-After.
memory = "256MiB"
wait = "10s"

[cache]
# Memory each server process (every worker, and each CLI command) may spend on index documents it has
# read, kept in an LRU; documents beyond it are read from the database again. 64 MiB suits a small
# server; a large catalogue read mostly hot can use more. 0 keeps none.
index_documents = "64MiB"

[unpacked_limits]
# How much one upload may unpack to, by what it is; a key left out uses limits.max_unpacked_size.
# crate = "512MiB"            # a .crate (crates.io allows 512 MiB)
# julia_package = "512MiB"    # a Julia package's source tree
# julia_artifact = "2GiB"     # a Julia artifact (binaries, data sets)
# bazel_source = "2GiB"       # a Bazel module's source archive (often a whole upstream project)
# moonbit_module = "512MiB"   # a MoonBit module zip (moon publish)

# Repositories, each served under its name.
#   name:       lowercase letters, digits, ".", "_" and "-"
#   format:     "cargo", "bazel", "julia", "moonbit" or "brioche"
#   kind:       "hosted" (published to), "proxy" (mirrors upstream) or "group" (serves its members as one)
#   visibility: "public" (the default: anyone may read) or "private" (reading needs a token)
# Without any [[repos]], Larder serves a hosted repository per format, as below.
[[repos]]
name = "cargo"
format = "cargo"
kind = "hosted"
visibility = "public"
# static_origin = "/srv/larder-static/cargo"   # also write the public index as files for nginx (docs/deployment.md)
# git_squash_after = 1000      # the git index (/cargo/git/index): squashed into one commit past this many commits
# git_batch = "1s"             # the git index: at most one commit per this window

[[repos]]
name = "bazel"
format = "bazel"
kind = "hosted"
visibility = "public"
# mirrors = ["https://larder.example/bazel-mirror"]   # written once into bazel_registry.json
${BAZEL_POLICY_INIT_TEXT}
[[repos]]
name = "julia"
format = "julia"
kind = "hosted"
visibility = "public"

[[repos]]
name = "moonbit"
format = "moonbit"
kind = "hosted"
visibility = "public"

[[repos]]
name = "brioche"
format = "brioche"
kind = "hosted"
visibility = "public"

# A caching mirror of crates.io:
# [[repos]]
# name = "crates-io"
# format = "cargo"
# kind = "proxy"
# visibility = "public"
# upstream = "https://index.crates.io/"

# Both of the above behind one name:
# [[repos]]
# name = "all"
# format = "cargo"
# kind = "group"
# visibility = "public"
# members = ["cargo", "crates-io"]

# A caching mirror of mooncakes.io (its git index and zips), and one MOONCAKES_REGISTRY over both:
# [[repos]]
# name = "mooncakes"
# format = "moonbit"
# kind = "proxy"
# visibility = "public"
# upstream = "https://mooncakes.io"
#
# [[repos]]
# name = "moon"
# format = "moonbit"
# kind = "group"
# visibility = "public"
# members = ["moonbit", "mooncakes"]
`;
}
