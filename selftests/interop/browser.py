#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Headless Chromium against a WebSocket echo server: prints TAP, exits 1 on failure.

Serves browser.html over HTTP on 127.0.0.1, starts Chromium on it with the echo servers' URLs,
and prints a TAP line for each check the page POSTs back (/result), until it POSTs /done.
Chromium runs with a fresh profile in a temporary directory and is killed at the end. Several
servers (IPv4 and IPv6) share one browser start, which is most of the run time under TCG.

    browser.py ws://HOST:PORT/ TAP-NAME-PREFIX [ws://HOST2:PORT2/ TAP-NAME-PREFIX2 ...]

Environment: KWS_CHROMIUM (the browser command, default chromium-headless-shell, else
chromium; both from Debian's chromium source: the headless shell is the same Blink, V8 and
network stack without the browser UI, and it loads the page within a minute or two under TCG
where chromium --headless did not within three), BROWSER_START_TIMEOUT
(seconds until the page must have loaded, default 420: Chromium's start under TCG takes one
minute on a quiet host, five or more on a busy one), BROWSER_TIMEOUT (seconds for everything, default
780: run.sh kills the group at 840), BROWSER_BIG (the
largest binary message, default 16 MiB - 1).
"""
import http.server
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.path.join(HERE, "browser.html")

results = []
lock = threading.Lock()
loaded = threading.Event()
done = threading.Event()


def tap(ok, name, why=""):
    with lock:
        results.append(ok)
        print("%s %d %s%s" % ("ok" if ok else "not ok", len(results), name,
                              "" if ok or not why else " # " + why), flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    prefixes = [""]
    began = time.monotonic()

    def do_GET(self):
        if urllib.parse.urlsplit(self.path).path != "/browser.html":
            self.send_error(404)
            return
        with open(PAGE, "rb") as f:
            body = f.read()
        if not loaded.is_set():
            print("# page requested after %.1f s" % (time.monotonic() - self.began), flush=True)
        loaded.set()
        self.reply(200, "text/html; charset=utf-8", body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        try:
            report = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            report = {}
        if self.path == "/result":
            try:
                prefix = self.prefixes[int(report.get("server", 0))]
            except (ValueError, IndexError):
                prefix = self.prefixes[0] + "unknown_server."
            tap(bool(report.get("ok")), prefix + str(report.get("name", "?")),
                report.get("why", ""))
        elif self.path == "/done":
            done.set()
        self.reply(204, "text/plain", b"")

    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def chromium_command():
    if os.environ.get("KWS_CHROMIUM"):
        cmd = shlex.split(os.environ["KWS_CHROMIUM"])
        return cmd if shutil.which(cmd[0]) else None
    for name in ("chromium-headless-shell", "chromium"):
        if shutil.which(name):
            return [name]
    return None


SHELL_DIR = "/usr/lib/chromium"
SHELL_FILES = ("chromium-headless-shell", "headless_lib_data.pak", "headless_lib_strings.pak",
               "headless_command_resources.pak", "icudtl.dat", "v8_context_snapshot.bin",
               "snapshot_blob.bin")


def staged_headless_shell(cmd, into):
    """In the VM, the headless shell from a copy in tmpfs, else cmd unchanged.

    The guest reads the host's files over 9p without a cache: Chromium's start faults in its
    222 MB binary a page per round trip (about two minutes under TCG); one sequential copy
    with large reads takes seconds, and the start from tmpfs about 45 s.
    """
    if not os.environ.get("KWS_VM") or os.path.basename(cmd[0]) != "chromium-headless-shell":
        return cmd
    if not all(os.path.exists(os.path.join(SHELL_DIR, f)) for f in SHELL_FILES):
        return cmd
    began = time.monotonic()
    try:
        for name in SHELL_FILES:
            with open(os.path.join(SHELL_DIR, name), "rb") as src, \
                    open(os.path.join(into, name), "wb") as dst:
                while True:
                    block = src.read(4 << 20)
                    if not block:
                        break
                    dst.write(block)
            shutil.copymode(os.path.join(SHELL_DIR, name), os.path.join(into, name))
    except OSError as e:
        print("# could not copy the headless shell (%s): starting it from %s" % (e, SHELL_DIR))
        return cmd
    print("# copied the headless shell to %s in %.1f s" % (into, time.monotonic() - began),
          flush=True)
    return [os.path.join(into, SHELL_FILES[0])] + cmd[1:]


def main(servers):
    prefix = servers[0][1]
    start_limit = float(os.environ.get("BROWSER_START_TIMEOUT", "420"))
    total_limit = float(os.environ.get("BROWSER_TIMEOUT", "780"))
    big = int(os.environ.get("BROWSER_BIG", str(16 * 2 ** 20 - 1)))
    began = Handler.began = time.monotonic()
    cmd = chromium_command()
    if cmd is None:
        print("ok 1 %spage_complete # SKIP no chromium (apt-get install chromium)" % prefix)
        return 0

    Handler.prefixes = [p for _, p in servers]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    query = urllib.parse.urlencode([("ws", url) for url, _ in servers] +
                                   [("big", big), ("timeout", int(total_limit * 1000 / 4))])
    page = "http://127.0.0.1:%d/browser.html?%s" % (httpd.server_address[1], query)
    workdir = tempfile.mkdtemp(prefix="kws-chromium.")
    profile = os.path.join(workdir, "profile")
    os.mkdir(profile)
    cmd = staged_headless_shell(cmd, workdir)
    log = open(os.path.join(workdir, "chromium.log"), "w+")
    # Root in the VM needs --no-sandbox; no GPU, no first-run UI, nothing fetched from the network.
    # No D-Bus in the VM: without this, Chromium retries the bus for seconds.
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS="disabled:")
    argv = cmd + ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-breakpad", "--disable-crash-reporter", "--mute-audio",
                  "--user-data-dir=" + profile, page]
    print("# %s" % " ".join(shlex.quote(a) for a in argv), flush=True)
    browser = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                               env=env, start_new_session=True)
    why = ""
    try:
        while not done.is_set():
            elapsed = time.monotonic() - began
            if browser.poll() is not None:
                why = "chromium exited with %d" % browser.returncode
                break
            if not loaded.is_set() and elapsed > start_limit:
                why = "the page was not loaded within %d s" % start_limit
                break
            if elapsed > total_limit:
                why = "the page did not finish within %d s" % total_limit
                break
            done.wait(0.2)
        if loaded.is_set():
            print("# %s after %.1f s" % ("finished" if done.is_set() else "stopped",
                                         time.monotonic() - began), flush=True)
    finally:
        try:
            os.killpg(browser.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        browser.wait()
        httpd.shutdown()
        if why:
            log.seek(0)
            for line in log.read().splitlines()[-15:]:
                print("# chromium: %s" % line)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    tap(done.is_set() and not why, prefix + "page_complete", why)
    return 0 if all(results) else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit("usage: browser.py ws://HOST:PORT/ TAP-NAME-PREFIX [URL PREFIX ...]")
    sys.exit(main(list(zip(args[0::2], args[1::2]))))
