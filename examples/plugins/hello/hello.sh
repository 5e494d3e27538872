#!/bin/sh
# hello: a VWMP plugin (stdio ABI v1) written in POSIX sh.
#
# Handler `greet` reads {"parameters": {"name": "..."}} from stdin and prints
# {"message": "Hello, <name>!"} on stdout. Logs go to stderr.
#
# There is no JSON parser here, only sed. That is safe because the name is
# accepted only if it has no backslash. JSON writes every `"` inside a string
# as `\"`, so a value without `\` can neither contain a quote nor end early.
# Such a value can also be copied into the JSON output unchanged.
set -eu

fail() {
    echo "hello: $1" >&2
    exit 2
}

handler=${1:-}
[ "$handler" = "greet" ] || fail "unknown handler '${handler}'; this plugin has only 'greet'"

# JSON allows newlines only between tokens, so joining lines keeps the meaning.
input=$(tr '\n' ' ')

api_version=$(printf '%s' "$input" |
    sed -n 's/.*"api_version"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p')
[ "$api_version" = "1" ] || fail "unsupported api_version '${api_version}'; this plugin speaks version 1"

# The capture stops at the first `"`; an escaped quote leaves a `\` in it.
name=$(printf '%s' "$input" |
    sed -n 's/.*"name"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
case $input in
    *'"name"'*) ;;
    *) fail "missing parameter 'name'; pass it as a string" ;;
esac
case $name in
    *\\*) fail "parameter 'name' contains a quote or backslash; use a plain name" ;;
esac
case $name in
    *[[:cntrl:]]*) fail "parameter 'name' contains a control character; use a plain name" ;;
esac
[ -n "$name" ] || fail "parameter 'name' is empty or not a string; pass a non-empty string"
[ "${#name}" -le 64 ] || fail "parameter 'name' is longer than 64 characters"

echo "hello: greeting ${name}" >&2
printf '{"message": "Hello, %s!"}\n' "$name"
echo "hello: done" >&2
