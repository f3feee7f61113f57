#!/usr/bin/env bash
# fuzz/make-http-upgrade-corpus.sh: writes the seed corpus of fuzz_http_upgrade: the request
# heads a WebSocket listener meets (the JS client's upgrade with a ?token= query, one with an
# Authorization header, a health probe, a request with a body).
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)/corpus/fuzz_http_upgrade"
mkdir -p "$out"
key='Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
printf "GET /sync?token=abc%%20def HTTP/1.1\r\nHost: 127.0.0.1:3030\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n$key\r\n" >"$out/upgrade-query-token"
printf "GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nAuthorization: Bearer 0123456789abcdef\r\n$key\r\n" >"$out/upgrade-bearer"
printf 'GET /health HTTP/1.1\r\nHost: a\r\n\r\n' >"$out/plain-get"
printf 'POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello' >"$out/post-with-body"
