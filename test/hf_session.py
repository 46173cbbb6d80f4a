"""Runs the parity tests' scripts one after another in this one interpreter (test/huggingface.ts),
so torch, transformers and peft are imported once per test file rather than once per script.

Each request is one JSON line on stdin, {"script": path, "args": [...]}: the script runs as
__main__ with sys.argv = [path, *args] and its folder first on sys.path, as `python path args`
would run it, with its stdout captured. Each reply is one JSON line on stdout: {"stdout": text},
or {"error": traceback} when it raised. Global state a script sets (torch's default dtype, its
thread count) carries over to the next script of the same test file.
"""
import contextlib
import io
import json
import os
import runpy
import sys
import traceback

replies = sys.stdout
for line in sys.stdin:
    request = json.loads(line)
    script = request["script"]
    sys.argv = [script, *request["args"]]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            runpy.run_path(script, run_name="__main__")
        reply = {"stdout": captured.getvalue()}
    except BaseException:  # SystemExit too: a script that exits has failed its request
        reply = {"error": traceback.format_exc()}
    finally:
        sys.path.pop(0)
    replies.write(json.dumps(reply) + "\n")
    replies.flush()
