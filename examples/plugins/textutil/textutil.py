#!/usr/bin/python3
"""textutil: a VWMP plugin (stdio ABI v1) written in Python, standard library only.

Handlers, chosen by the first argument:
  upper         {"text": str} -> {"text": upper-cased text}
  count         {"text": str} -> {"characters": n, "words": n, "lines": n}
  write_report  {"text": str} -> writes report.txt in the workspace,
                                 returns {"path": "report.txt", "bytes": n}

Reads one JSON object from stdin, logs to stderr, and prints one JSON object
on stdout. Exits 2 on invalid input.
"""

import json
import os
import sys

API_VERSION = 1

# Matches max_length in plugin.toml; the supervisor checks it too.
MAX_TEXT_CHARS = 10000

REPORT_NAME = "report.txt"


class InputError(Exception):
    """Invalid step input. The message explains what to fix."""


def log(message):
    print(f"textutil: {message}", file=sys.stderr, flush=True)


def text_parameter(parameters):
    text = parameters.get("text")
    if not isinstance(text, str):
        raise InputError("parameter 'text' is missing or not a string; pass a string")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"parameter 'text' is longer than {MAX_TEXT_CHARS} characters")
    return text


def upper(step):
    text = text_parameter(step["parameters"])
    log(f"upper-casing {len(text)} characters")
    return {"text": text.upper()}


def count(step):
    text = text_parameter(step["parameters"])
    # Lines as str.splitlines counts them: a last line without "\n" counts too.
    result = {
        "characters": len(text),
        "words": len(text.split()),
        "lines": len(text.splitlines()),
    }
    log(f"counted {result['words']} words")
    return result


def write_report(step):
    text = text_parameter(step["parameters"])
    data = text.encode("utf-8")
    path = os.path.join(step["workspace"], REPORT_NAME)
    # O_NOFOLLOW: never write through a symlink an earlier step left behind.
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as report:
        report.write(data)
    log(f"wrote {len(data)} bytes to {REPORT_NAME}")
    return {"path": REPORT_NAME, "bytes": len(data)}


HANDLERS = {"upper": upper, "count": count, "write_report": write_report}


def read_step():
    try:
        # Raw bytes, because json detects UTF-8 itself regardless of the locale.
        step = json.loads(sys.stdin.buffer.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"stdin is not a JSON object: {err}") from err
    if not isinstance(step, dict):
        raise InputError("stdin is not a JSON object")
    if step.get("api_version") != API_VERSION:
        raise InputError(
            f"unsupported api_version {step.get('api_version')!r}; "
            f"this plugin speaks version {API_VERSION}"
        )
    if not isinstance(step.get("parameters"), dict):
        raise InputError("field 'parameters' is missing or not an object")
    if not isinstance(step.get("workspace"), str):
        raise InputError("field 'workspace' is missing or not a string")
    return step


def main(argv):
    if len(argv) != 2 or argv[1] not in HANDLERS:
        names = ", ".join(HANDLERS)
        log(f"unknown handler {argv[1:]!r}; pass one of: {names}")
        return 2
    try:
        outputs = HANDLERS[argv[1]](read_step())
    except InputError as err:
        log(str(err))
        return 2
    except OSError as err:
        log(f"failed: {err}")
        return 1
    json.dump(outputs, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
