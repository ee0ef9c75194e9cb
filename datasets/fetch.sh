#!/usr/bin/env bash
# Places tiny Shakespeare at datasets/tinyshakespeare.txt, verified against its SHA-256.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="$here/tinyshakespeare.txt"
sha=86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed
shared="$here/../../shared/datasets/tinyshakespeare/input.txt"
url=https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt

verify() { echo "$sha  $1" | sha256sum --check --status; }

if [ -f "$target" ] && verify "$target"; then exit 0; fi
tmp="$(mktemp "$here/.fetch.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
if [ -f "$shared" ]; then
  cp "$shared" "$tmp"
else
  curl -fsSL --retry 3 -o "$tmp" "$url"
fi
if ! verify "$tmp"; then
  echo "tiny Shakespeare checksum mismatch: expected $sha" >&2
  exit 1
fi
mv "$tmp" "$target"
trap - EXIT
echo "dataset ready: $target"
