"""Open the built site in headless Chromium, as a reader does from disk, and fail on what a reader would see.

Run: python docs/check_site.py [docs/_build/html]   (after ``python docs/build.py --no-check``)

For every page (home, each tutorial, the results pages, the troubleshooting page, the design pages and
three API pages) it checks, after the page and MathJax have finished:

- every formula is typeset: no ``.math`` element is left without MathJax's ``mjx-container`` (raw TeX
  such as ``\\epsilon = 2 \\alpha_i`` on screen is a failure);
- every image has loaded (``complete`` and a natural width above 0);
- nothing was fetched from the network: every request the page made is a ``file:``/``data:``/``blob:``
  URL (the browser runs with every host resolving nowhere, so a request elsewhere is also a failure).

It writes a screenshot of the home page, one tutorial and one API page to ``<site>/_screenshots/``.
Chromium is Debian's ``chromium`` (or ``$CHROMIUM``); ``websocket-client`` drives it over the DevTools
protocol.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

PAGES = ["docs/index.html", "README.html", "docs/troubleshooting.html", "docs/design/architecture.html",
         "examples/README.html", "benchmarks/README.html", "docs/api/npscore.sde.html",
         "docs/api/npscore.losses.html", "docs/api/npscore.nn.conv.html"]
SHOTS = {"docs/index.html": "home", "tutorials/04_two_modes.html": "tutorial", "docs/api/npscore.losses.html": "api"}
LOCAL = ("file:", "data:", "blob:", "about:", "chrome")

#: evaluated on each page once it has loaded: waits for MathJax, then reports what a reader sees
PROBE = """
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const math = [...document.querySelectorAll('.math')];
  const raw = math.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60));
  const imgs = [...document.images];
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
  return JSON.stringify({title: document.title, math: math.length, raw, images: imgs.length, broken});
})()
"""


def _browser():
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise SystemExit("check_site: no Chromium found (install Debian's chromium, or set CHROMIUM)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    profile = tempfile.mkdtemp(prefix="npscore-chromium-")
    proc = subprocess.Popen([exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                             f"--remote-debugging-port={port}", f"--user-data-dir={profile}",
                             "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1280,900", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
            page = next(t for t in targets if t["type"] == "page")
            return proc, profile, websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                                                 suppress_origin=True)
        except (OSError, StopIteration):
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("check_site: Chromium did not open its DevTools port")


class Tab:
    """One page of the browser, driven over the DevTools protocol."""

    def __init__(self, ws):
        self.ws, self.n, self.requests = ws, 0, []
        self.call("Page.enable")
        self.call("Network.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == "Network.requestWillBeSent":
                self.requests.append(msg["params"]["request"]["url"])
            if msg.get("id") == self.n:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def wait_for(self, event, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == "Network.requestWillBeSent":
                self.requests.append(msg["params"]["request"]["url"])
            if msg.get("method") == event:
                return
        raise TimeoutError(event)

    def open(self, url):
        self.requests = []
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        out = self.call("Runtime.evaluate", expression=PROBE, awaitPromise=True, returnByValue=True)
        return json.loads(out["result"]["value"])

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def pages(site):
    folder = os.path.join(site, "tutorials")
    tutorials = sorted(f"tutorials/{n}" for n in os.listdir(folder) if n.endswith(".html")) if os.path.isdir(folder) else []
    return [p for p in PAGES if os.path.exists(os.path.join(site, p))] + tutorials, \
        [p for p in PAGES if not os.path.exists(os.path.join(site, p))]


def main(argv):
    site = os.path.abspath(argv[0] if argv else os.path.join(os.path.dirname(__file__), "_build", "html"))
    present, missing = pages(site)
    problems = [f"{p}: page missing" for p in missing]
    shots = os.path.join(site, "_screenshots")
    os.makedirs(shots, exist_ok=True)
    proc, profile, ws = _browser()
    try:
        tab = Tab(ws)
        for page in present:
            seen = tab.open("file://" + os.path.join(site, page))
            remote = [u for u in tab.requests if not u.startswith(LOCAL)]
            print(f"{page:45s} {seen['math']:5d} formulas, {len(seen['raw'])} raw; {seen['images']:3d} images, "
                  f"{len(seen['broken'])} broken; {len(remote)} network requests", flush=True)
            problems += [f"{page}: raw TeX on screen: {t!r}" for t in seen["raw"][:5]]
            problems += [f"{page}: image not loaded: {s}" for s in seen["broken"][:5]]
            problems += [f"{page}: fetched from the network: {u}" for u in remote[:5]]
            if page in SHOTS:
                tab.screenshot(os.path.join(shots, SHOTS[page] + ".png"))
    finally:
        ws.close()
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"screenshots: {shots}")
    if problems:
        raise SystemExit("check_site: " + str(len(problems)) + " problems\n  " + "\n  ".join(problems))
    print(f"check_site: {len(present)} pages, every formula typeset, every image loaded, nothing fetched")


if __name__ == "__main__":
    main(sys.argv[1:])
