#!/usr/bin/env python3
"""Two load scenarios against the example apps' release binaries, outside the
harness's peer comparison:

  hot    32 connections on one session's GET /visits for 10 s (wrk), on the
         memory store, on memcached, and through two instances sharing
         memcached: answers, non-2xx, and whether the final count is exact.
  flood  1,000 users log in, then anonymous GET /login (no cookie) for a while
         against memcached -m 64: store writes during the flood, evictions,
         and how many users are still logged in.
  slow   500 connections each holding a partial 60 KiB request head: the
         app's resident memory before and with them, how long until the app
         closed them all, and the slowest of the other clients meanwhile.

Usage: bench/scenarios/load.py hot|flood|slow [--app example-axum] [--seconds N]
Needs wrk and memcached (apt-get install wrk memcached) and the release
builds (cargo build --release -p example-axum -p example-actix -p example-hyper).
"""
import argparse, http.client, os, re, socket, subprocess, sys, time, urllib.parse

SECRET = "00" * 32
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memcached(*args):
    port = free_port()
    proc = subprocess.Popen(["memcached", "-u", "root", "-l", "127.0.0.1", "-p", str(port), "-U", "0", *args])
    wait_port(port)
    return proc, port


def wait_port(port):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def start_app(app, store):
    port = free_port()
    env = dict(os.environ, SESSION_SECRET=SECRET)
    proc = subprocess.Popen([os.path.join(ROOT, "target/release", app), "--listen", f"127.0.0.1:{port}",
                             "--store", store], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def mc_stats(port):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            data += s.recv(65536)
    return {k: int(v) for k, v in re.findall(rb"STAT (\w+) (\d+)\r\n", data) for k, v in [(k.decode(), v.decode())]}


def request(port, method, path, cookie=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read().decode()
    set_cookie = response.getheader("Set-Cookie")
    conn.close()
    new_cookie = set_cookie.split(";", 1)[0] if set_cookie else None
    return response.status, data, new_cookie


def wrk(port, path, seconds, connections, cookie=None):
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(args + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return total, int(bad.group(1)) if bad else 0


def hot(args):
    mc, mc_port = memcached()
    rows = []
    try:
        for label, stores in [("memory, one instance", ["memory"]),
                              ("memcached, one instance", [f"memcached://127.0.0.1:{mc_port}"]),
                              ("memcached, two instances", [f"memcached://127.0.0.1:{mc_port}"] * 2)]:
            apps = [start_app(args.app, store) for store in stores]
            try:
                status, first, cookie = request(apps[0][1], "GET", "/visits")
                assert status == 200 and first.strip() == "1", (status, first)
                results = []
                procs = []
                # One wrk per instance, the connections split between them.
                import threading
                def run(port, out):
                    out.append(wrk(port, "/visits", args.seconds, 32 // len(apps), cookie))
                threads = [threading.Thread(target=run, args=(port, results)) for _, port in apps]
                [t.start() for t in threads]
                [t.join() for t in threads]
                answered = sum(total - bad for total, bad in results)
                errors = sum(bad for _, bad in results)
                status, last, _ = request(apps[0][1], "GET", "/visits", cookie)
                final = int(last.strip())
                committed = final - 2  # the first visit and this last one
                rows.append((label, answered, errors, committed, committed - answered, committed / args.seconds))
            finally:
                for proc, _ in apps:
                    proc.terminate(); proc.wait()
    finally:
        mc.terminate()
    print(f"| {args.app}: 32 connections, one session, {args.seconds} s | 200 answers | non-2xx | commits counted | commits - answers | commits/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, answered, errors, committed, extra, rate in rows:
        print(f"| {label} | {answered:,} | {errors:,} | {committed:,} | {extra:+,} | {rate:,.0f} |")
    print("\ncommits - answers: 0 means no count was lost or repeated; a small positive number is requests "
          "that committed while wrk was stopping and whose answers it did not count; negative would be lost updates.")


def flood(args):
    mc, mc_port = memcached("-m", "64")
    app, port = start_app(args.app, f"memcached://127.0.0.1:{mc_port}")
    try:
        users = []
        for i in range(1000):
            status, page, cookie = request(port, "GET", "/login")
            token = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
            body = urllib.parse.urlencode({"name": f"user{i}", "_xsrf": token})
            status, _, cookie = request(port, "POST", "/login", cookie, body)
            assert status == 303 and cookie, status
            users.append(cookie)
        before = mc_stats(mc_port)
        total, bad = wrk(port, "/login", args.seconds, 64)
        after = mc_stats(mc_port)
        still = sum(1 for cookie in users if request(port, "GET", "/", cookie)[0] == 200)
        writes = sum(after.get(k, 0) - before.get(k, 0) for k in ("cmd_set", "cmd_touch"))
        print(f"| {args.app} on memcached -m 64 | value |")
        print("|---|---:|")
        print(f"| anonymous GET /login in {args.seconds} s | {total:,} ({total / args.seconds:,.0f}/s, {bad:,} non-2xx) |")
        print(f"| memcached writes during the flood (cmd_set + cmd_touch) | {writes:,} |")
        print(f"| items before / after | {before['curr_items']:,} / {after['curr_items']:,} |")
        print(f"| evictions during the flood | {after['evictions'] - before['evictions']:,} |")
        print(f"| users still logged in | {still:,} of 1,000 |")
    finally:
        app.terminate(); app.wait(); mc.terminate()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def slow(args):
    app, port = start_app(args.app, "memory")
    try:
        request(port, "GET", "/visits")
        before = rss_kb(app.pid)
        head = b"GET /visits HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (60 * 1024)
        opened = time.monotonic()
        conns = []
        for _ in range(500):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(head)
            conns.append(s)
        time.sleep(1)
        during = rss_kb(app.pid)
        slowest = 0.0
        for _ in range(20):
            started = time.monotonic()
            status, _, _ = request(port, "GET", "/visits")
            assert status == 200, status
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.2)
        closed_at = []
        for s in conns:
            s.settimeout(20)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
            closed_at.append(time.monotonic() - opened)
        print(f"| {args.app}: 500 connections with a partial 60 KiB head | value |")
        print("|---|---:|")
        print(f"| resident memory before / with them | {before / 1024:.1f} MB / {during / 1024:.1f} MB (+{(during - before) / 1024:.1f} MB) |")
        print(f"| all closed after | {max(closed_at):.1f} s |")
        print(f"| slowest of 20 other requests meanwhile | {slowest * 1000:.0f} ms |")
    finally:
        app.terminate(); app.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["hot", "flood", "slow"])
    parser.add_argument("--app", default="example-axum")
    parser.add_argument("--seconds", type=int, default=None)
    args = parser.parse_args()
    if args.seconds is None:
        args.seconds = 10 if args.scenario == "hot" else 60
    {"hot": hot, "flood": flood, "slow": slow}[args.scenario](args)


if __name__ == "__main__":
    main()
