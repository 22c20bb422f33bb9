#!/usr/bin/env python3
"""bench.py - the rows of issue 7, measured side by side in one run.

Called by run.sh (full) and smoke.sh (tiny inputs) once nginx is up. Each
row runs its tools interleaved (A B C A B C ...), `reps` times, and prints
the median (min-max) of each metric and the ratio of ours to each peer.
Client CPU seconds come from wait4() of each child. Only ratios inside one
run mean anything on a shared 2-core machine.

Standard library only.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

GIB = 1 << 30

# (key, label, higher is better, format)
M_GBPS = ("gbps", "GB/s", True, "{:.3f}")
M_CPU_GIB = ("cpu_per_gib", "CPU s/GiB", False, "{:.3f}")
M_RPS = ("rps", "req/s", True, "{:.0f}")
M_CPU_REQ = ("cpu_us_per_req", "CPU us/req", False, "{:.1f}")
M_KIB = ("kib_per_transfer", "KiB/transfer", False, "{:.2f}")
M_MS = ("ms", "ms", False, "{:.2f}")


class ToolFailed(Exception):
    pass


class Skip(Exception):
    pass


def run_proc(argv, timeout, env=None, stdout_path=None):
    """Runs argv; returns (exit code, wall seconds, CPU seconds, stdout).

    stdout goes to a temp file (or stdout_path), stderr to a temp file
    whose tail is kept for failure reports.
    """
    out = open(stdout_path, "w+b") if stdout_path else tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=err, env=env)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode == -signal.SIGINT:
        raise KeyboardInterrupt  # Ctrl-C reached the child: stop the run
    out.seek(0)
    err.seek(0)
    text = out.read().decode("utf-8", "replace")
    run_proc.last_stderr = err.read().decode("utf-8", "replace")[-600:]
    out.close()
    err.close()
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, text


run_proc.last_stderr = ""


def result_line(text):
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line[7:].split())
    raise ToolFailed("no RESULT line in its output")


def check(rc, argv):
    if rc != 0:
        tail = run_proc.last_stderr.strip().splitlines()[-3:]
        raise ToolFailed("exit %d: %s" % (rc, " | ".join(tail)))


class Bench:
    def __init__(self, args):
        self.a = args
        self.host = "127.0.0.1"
        self.port = args.port
        self.base = "http://127.0.0.1:%d" % args.port
        self.tls_base = "https://127.0.0.1:%d" % args.tls_port
        self.out = os.path.join(args.work, "out")
        self.root = os.path.join(args.work, "root")
        self.bin = args.bin
        self.results = []  # one dict per row, for the JSON dump
        self.failures = []

    # ---- helpers ----

    def prog(self, name):
        path = os.path.join(self.bin, name)
        return path if os.access(path, os.X_OK) else None

    def size(self, name):
        return os.path.getsize(os.path.join(self.root, name))

    def bulk(self, argv, nbytes, out_file=None, env=None, parse=False):
        """A whole-process transfer of nbytes: GB/s and CPU s per GiB."""
        if out_file and os.path.exists(out_file):
            os.unlink(out_file)
        rc, wall, cpu, text = run_proc(argv, self.a.timeout, env=env)
        check(rc, argv)
        if parse:
            got = int(result_line(text)["bytes"])
            if got != nbytes:
                raise ToolFailed("read %d bytes, expected %d" % (got, nbytes))
        if out_file:
            got = -1
            if os.path.exists(out_file):
                got = os.path.getsize(out_file)
                os.unlink(out_file)
            if got != nbytes:
                raise ToolFailed("wrote %d bytes, expected %d" % (got, nbytes))
        return {"gbps": nbytes / wall / 1e9, "cpu_per_gib": cpu / (nbytes / GIB)}

    def rate_prog(self, argv):
        rc, wall, cpu, text = run_proc(argv, self.a.timeout)
        check(rc, argv)
        r = result_line(text)
        n = int(r["requests"])
        if int(r.get("new_conns", 0)) > int(r["conns"]):
            raise ToolFailed("opened %s connections for C=%s"
                             % (r["new_conns"], r["conns"]))
        return {"rps": float(r["rps"]), "cpu_us_per_req": cpu * 1e6 / n}

    def wrk(self, path, conns, seconds):
        argv = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds,
                self.base + path]
        rc, wall, cpu, text = run_proc(argv, self.a.timeout)
        check(rc, argv)
        m = re.search(r"Requests/sec:\s*([0-9.]+)", text)
        n = re.search(r"(\d+) requests in", text)
        if not m or not n or int(n.group(1)) == 0:
            raise ToolFailed("cannot read wrk's output")
        if "Non-2xx" in text or "Socket errors" in text:
            raise ToolFailed("wrk saw errors: " + text.strip()[-200:])
        return {"rps": float(m.group(1)),
                "cpu_us_per_req": cpu * 1e6 / int(n.group(1))}

    def mem_prog(self, argv):
        rc, wall, cpu, text = run_proc(argv, self.a.timeout)
        check(rc, argv)
        return {"kib_per_transfer": float(result_line(text)["kib_per_transfer"])}

    # ---- running a row ----

    def row(self, rid, title, metrics, tools, note=None):
        """tools: [(name, fn)]; the first is ours. Interleaved reps."""
        samples = {name: {m[0]: [] for m in metrics} for name, _ in tools}
        failed = {}
        for rep in range(self.a.reps):
            for name, fn in tools:
                if name in failed:
                    continue
                try:
                    got = fn()
                except ToolFailed as e:
                    failed[name] = str(e)
                    self.failures.append("%s / %s: %s" % (title, name, e))
                    continue
                for key in samples[name]:
                    samples[name][key].append(got[key])
        res = {"id": rid, "title": title, "note": note,
               "metrics": [m[0] for m in metrics], "tools": [], "failed": failed}
        for name, _ in tools:
            entry = {"name": name}
            for key, vals in samples[name].items():
                if vals:
                    entry[key] = {"median": statistics.median(vals),
                                  "min": min(vals), "max": max(vals),
                                  "n": len(vals)}
            res["tools"].append(entry)
        self.results.append(res)
        self.print_row(res, metrics)
        return res

    def skipped(self, rid, title, why):
        self.results.append({"id": rid, "title": title, "skipped": why,
                             "tools": [], "metrics": [], "failed": {}})
        print("\n== %s ==\n   skipped: %s" % (title, why), flush=True)

    def print_row(self, res, metrics):
        print("\n== %s ==" % res["title"])
        if res.get("note"):
            print("   (%s)" % res["note"])
        head = "   %-26s" % "tool"
        for m in metrics:
            head += " %-28s" % m[1]
        print(head.rstrip())
        for t in res["tools"]:
            line = "   %-26s" % t["name"]
            if t["name"] in res["failed"]:
                print(line + " FAILED: " + res["failed"][t["name"]])
                continue
            for key, label, _, fmt in metrics:
                s = t.get(key)
                if s is None:
                    line += " %-28s" % "-"
                    continue
                cell = "%s (%s-%s)" % (fmt.format(s["median"]),
                                       fmt.format(s["min"]), fmt.format(s["max"]))
                line += " %-28s" % cell
            print(line.rstrip())
        ours = res["tools"][0]
        for peer in res["tools"][1:]:
            parts = []
            for key, label, higher, _ in metrics:
                if key in ours and key in peer and peer[key]["median"] > 0:
                    r = ours[key]["median"] / peer[key]["median"]
                    parts.append("%s %.2fx" % (label, r))
            if parts:
                print("   %s / %s: %s" % (ours["name"], peer["name"],
                                        ", ".join(parts)))
        sys.stdout.flush()

    # ---- the rows ----

    def rows_bulk(self):
        big = self.a.big
        n = self.size(big)
        label = self.a.big_label
        url = self.base + "/" + big
        asy, loop, abg = self.a.async_bin, self.prog("copy_loop"), self.prog("ah_bench_get")
        o = self.out
        self.row("get_file", "%s GET to a file on %s" % (label, self.a.shm),
                 [M_GBPS, M_CPU_GIB], [
            ("async -w", lambda: self.bulk(
                [asy, "-h", "%s:%d" % (self.host, self.port), "-o", "/" + big,
                 "-w", o + "/a.bin"], n, o + "/a.bin")),
            ("curl -o", lambda: self.bulk(
                ["curl", "-s", "-o", o + "/c.bin", url], n, o + "/c.bin")),
            ("copy_loop", lambda: self.bulk(
                [loop, self.host, str(self.port), "/" + big, o + "/l.bin"],
                n, o + "/l.bin")),
        ])
        self.row("get_discard", "%s GET read and discarded" % label,
                 [M_GBPS, M_CPU_GIB], [
            ("ah_bench_get body", lambda: self.bulk(
                [abg, "body", self.host, str(self.port), "/" + big], n,
                parse=True)),
            ("curl -o /dev/null", lambda: self.bulk(
                ["curl", "-s", "-o", "/dev/null", url], n)),
            ("copy_loop -", lambda: self.bulk(
                [loop, self.host, str(self.port), "/" + big, "-"], n,
                parse=True)),
        ])

    def tls_works(self):
        """Whether the library does HTTPS (ah_bench_get --tls on 1 KiB)."""
        if not hasattr(self, "_tls_ok"):
            argv = [self.prog("ah_bench_get"), "body", self.host,
                    str(self.a.tls_port), "/1k.bin", "--tls", self.a.ca]
            rc, _, _, _ = run_proc(argv, 30)
            self._tls_ok = rc == 0
            self._tls_why = run_proc.last_stderr.strip()[-200:]
        return self._tls_ok

    def row_tls_library(self):
        title = "%s GET over TLS read and discarded" % self.a.big_label
        if not self.tls_works():
            self.skipped("tls_discard", title,
                         "the library's HTTPS failed: " + self._tls_why)
            return
        big, n = self.a.big, self.size(self.a.big)
        self.row("tls_discard", title, [M_GBPS, M_CPU_GIB], [
            ("ah_bench_get body --tls", lambda: self.bulk(
                [self.prog("ah_bench_get"), "body", self.host,
                 str(self.a.tls_port), "/" + big, "--tls", self.a.ca], n,
                parse=True)),
            ("curl -o /dev/null", lambda: self.bulk(
                ["curl", "-s", "--cacert", self.a.ca, "-o", "/dev/null",
                 self.tls_base + "/" + big], n)),
        ])

    def row_tls(self):
        asy, o = self.a.async_bin, self.out
        env = dict(os.environ, SSL_CERT_FILE=self.a.ca)
        title = "%s GET over TLS (AES-GCM) to a file" % self.a.big_label
        probe = [asy, "-s", "--cacert", self.a.ca, "-h",
                 "127.0.0.1:%d" % self.a.tls_port, "-o", "/1k.bin", "-w",
                 o + "/probe.bin"]
        rc, _, _, _ = run_proc(probe, 30, env=env)
        if rc == 1:  # a usage error: -s (or --cacert) is not there yet
            self.skipped("tls_get", title, "HTTPS not supported yet")
            return
        if rc != 0:
            self.skipped("tls_get", title, "async -s failed (exit %d): %s"
                         % (rc, run_proc.last_stderr.strip()[-200:]))
            self.failures.append(title + ": async -s exit %d" % rc)
            return
        big, n = self.a.big, self.size(self.a.big)
        self.row("tls_get", title, [M_GBPS, M_CPU_GIB], [
            ("async -s -w", lambda: self.bulk(
                [asy, "-s", "--cacert", self.a.ca, "-h",
                 "127.0.0.1:%d" % self.a.tls_port, "-o", "/" + big, "-w",
                 o + "/t.bin"], n, o + "/t.bin", env=env)),
            ("curl -o", lambda: self.bulk(
                ["curl", "-s", "--cacert", self.a.ca, "-o", o + "/u.bin",
                 self.tls_base + "/" + big], n, o + "/u.bin")),
        ])

    def row_post(self):
        asy, o = self.a.async_bin, self.out
        big = self.a.big
        src = os.path.join(self.root, big)
        n = self.size(big)
        url = self.base + "/upload"

        tools = [
            ("async -m POST", lambda: self.bulk(
                [asy, "-m", "POST", "-h", "%s:%d" % (self.host, self.port),
                 "-o", "/upload", "-r", src, "-w", o + "/p.txt"], n)),
            ("curl -T (streamed)", lambda: self.bulk(
                ["curl", "-s", "-f", "-X", "POST", "-T", src, "-o",
                 "/dev/null", url], n)),
        ]
        note = "nginx reads each body to its end before it answers"
        if n < GIB:
            tools.insert(1, ("curl --data-binary", lambda: self.bulk(
                ["curl", "-s", "-f", "--data-binary", "@" + src, "-o",
                 "/dev/null", url], n)))
        else:
            note += "; curl --data-binary @file refuses files of 1 GiB " \
                    "or more (\"out of memory\"), so curl -T is the peer"
        self.row("post", "%s POST from a file" % self.a.big_label,
                 [M_GBPS, M_CPU_GIB], tools, note=note)

    def rows_rate(self):
        abg, cmb = self.prog("ah_bench_get"), self.prog("curl_multi_bench")
        have_wrk = shutil.which("wrk") is not None
        for name, path, n_req in self.a.rate_files:
            for c in self.a.conns:
                tools = [("ah_bench_get", lambda p=path, c=c, n=n_req: self.rate_prog(
                    [abg, "rate", self.host, str(self.port), p, str(n), str(c)]))]
                if have_wrk:
                    tools.append(("wrk -t1", lambda p=path, c=c: self.wrk(
                        p, c, self.a.wrk_seconds)))
                if cmb:
                    tools.append(("libcurl multi", lambda p=path, c=c, n=n_req:
                                  self.rate_prog([cmb, "rate", self.base + p,
                                                  str(n), str(c)])))
                self.row("rate_%s_c%d" % (name, c),
                         "%s keep-alive GETs, C = %d" % (name, c),
                         [M_RPS, M_CPU_REQ], tools,
                         note="ours and libcurl: %d requests; wrk: %d s"
                         % (n_req, self.a.wrk_seconds))

    def rows_mem(self):
        abg, cmb = self.prog("ah_bench_get"), self.prog("curl_multi_bench")
        path = "/slow/" + self.a.mem_file
        for c in self.a.mem_conns:
            tools = [("ah_bench_get mem", lambda c=c: self.mem_prog(
                [abg, "mem", self.host, str(self.port), path, str(c)]))]
            if cmb:
                tools.append(("libcurl multi mem", lambda c=c: self.mem_prog(
                    [cmb, "mem", self.base + path, str(c)])))
            self.row("mem_c%d" % c,
                     "memory per paused transfer, C = %d" % c, [M_KIB], tools,
                     note="(RSS(C) - RSS(0)) / C, user memory only")
        for c in self.a.mem_tls_conns:
            title = "memory per paused TLS transfer, C = %d" % c
            if not self.tls_works():
                self.skipped("mem_tls_c%d" % c, title, "no HTTPS")
                continue
            tools = [("ah_bench_get mem --tls", lambda c=c: self.mem_prog(
                [abg, "mem", self.host, str(self.a.tls_port), path, str(c),
                 "--tls", self.a.ca]))]
            if cmb:
                tools.append(("libcurl multi mem", lambda c=c: self.mem_prog(
                    [cmb, "mem", self.tls_base + path, str(c), "--cacert",
                     self.a.ca])))
            self.row("mem_tls_c%d" % c, title, [M_KIB], tools,
                     note="(RSS(C) - RSS(0)) / C, user memory only")

    def row_fresh(self):
        asy, loop, o = self.a.async_bin, self.prog("copy_loop"), self.out
        cmds = [
            ("async", [asy, "-h", "%s:%d" % (self.host, self.port), "-o",
                       "/1k.bin", "-w", o + "/f1.bin"]),
            ("curl", ["curl", "-s", "-o", o + "/f2.bin", self.base + "/1k.bin"]),
            ("copy_loop", [loop, self.host, str(self.port), "/1k.bin",
                           o + "/f3.bin"]),
        ]
        broken = {}
        for name, argv in cmds:  # each must work before it is timed
            rc, _, _, _ = run_proc(argv, 30)
            try:
                check(rc, argv)
            except ToolFailed as e:
                broken[name] = str(e)
        cmds_ok = [(n, a) for n, a in cmds if n not in broken]
        hf = shutil.which("hyperfine")
        rounds = {}

        def one_round():
            if rounds:
                return
            if hf:
                js = os.path.join(self.a.work, "hyperfine.json")
                argv = [hf, "-N", "--runs", str(self.a.fresh_runs), "--warmup",
                        "3", "--export-json", js] + \
                       [" ".join(a) for _, a in cmds_ok]
                rc, _, _, _ = run_proc(argv, self.a.timeout)
                if rc != 0:
                    raise ToolFailed("hyperfine exit %d: %s"
                                     % (rc, run_proc.last_stderr[-200:]))
                with open(js) as f:
                    data = json.load(f)["results"]
                for (name, _), r in zip(cmds_ok, data):
                    rounds[name] = {"ms": r["mean"] * 1e3}
            else:
                for name, argv in cmds_ok:
                    walls = []
                    for _ in range(self.a.fresh_runs):
                        rc, wall, _, _ = run_proc(argv, 30)
                        check(rc, argv)
                        walls.append(wall)
                    rounds[name] = {"ms": statistics.mean(walls) * 1e3}

        def take(name):
            if name in broken:
                raise ToolFailed(broken[name])
            one_round()
            return rounds.pop(name)

        self.row("fresh", "fresh-process GET of 1 KiB", [M_MS],
                 [(name, lambda name=name: take(name)) for name, _ in cmds],
                 note="%s, %d runs per round, one round per rep"
                 % ("hyperfine -N" if hf else "fork+exec+wait4",
                    self.a.fresh_runs))

    # ---- goals ----

    def goals(self):
        by_id = {r["id"]: r for r in self.results}

        def med(rid, tool, key):
            r = by_id.get(rid)
            if not r:
                return None
            for t in r["tools"]:
                if t["name"] == tool and key in t:
                    return t[key]["median"]
            return None

        def ratio(rid, ours, peer, key):
            a, b = med(rid, ours, key), med(rid, peer, key)
            return None if a is None or not b else a / b

        lines = []

        def goal(text, value, op, target, unit="x"):
            if value is None:
                lines.append((text, "-", "not measured"))
                return
            ok = value >= target if op == ">=" else value <= target
            if ok:
                status = "met"
            elif op == ">=":
                status = "MISSED: %.0f%% short" % ((target - value) / target * 100)
            else:
                status = "MISSED: %.0f%% over" % ((value - target) / target * 100)
            lines.append((text, ("%.2f" % value) + unit, status))

        goal("GET to file >= 1.6x curl",
             ratio("get_file", "async -w", "curl -o", "gbps"), ">=", 1.6)
        goal("GET to file >= 0.95x copy loop",
             ratio("get_file", "async -w", "copy_loop", "gbps"), ">=", 0.95)
        goal("CPU per GiB written <= 0.5x curl",
             ratio("get_file", "async -w", "curl -o", "cpu_per_gib"), "<=", 0.5)
        goal("discard >= 0.95x copy loop",
             ratio("get_discard", "ah_bench_get body", "copy_loop -", "gbps"),
             ">=", 0.95)
        goal("TLS GET >= 1.2x curl",
             ratio("tls_get", "async -s -w", "curl -o", "gbps"), ">=", 1.2)
        goal("POST >= 1.2x curl",
             ratio("post", "async -m POST", "curl --data-binary", "gbps") or
             ratio("post", "async -m POST", "curl -T (streamed)", "gbps"),
             ">=", 1.2)
        for c in self.a.conns:
            if c < 16:
                continue
            rid = "rate_1 KiB_c%d" % c
            goal("1 KiB GETs C=%d >= 1.0x wrk -t1" % c,
                 ratio(rid, "ah_bench_get", "wrk -t1", "rps"), ">=", 1.0)
            goal("1 KiB GETs C=%d >= 1.3x libcurl multi" % c,
                 ratio(rid, "ah_bench_get", "libcurl multi", "rps"), ">=", 1.3)
        for c in self.a.mem_conns:
            goal("memory per paused transfer C=%d <= 4 KiB" % c,
                 med("mem_c%d" % c, "ah_bench_get mem", "kib_per_transfer"),
                 "<=", 4.0, unit=" KiB")
        for c in self.a.mem_tls_conns:
            goal("memory per paused TLS transfer C=%d <= 0.5x libcurl" % c,
                 ratio("mem_tls_c%d" % c, "ah_bench_get mem --tls",
                       "libcurl multi mem", "kib_per_transfer"), "<=", 0.5)
        goal("fresh-process 1 KiB GET <= 0.3x curl",
             ratio("fresh", "async", "curl", "ms"), "<=", 0.3)
        print("\n== goals (issue 7) ==")
        for text, value, status in lines:
            print("   %-52s %-12s %s" % (text, value, status))
        return lines


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["full", "smoke"], default="full")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls-port", type=int, required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--bin", required=True, help="dir of the bench programs")
    p.add_argument("--async", dest="async_bin", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--only", default="",
                   help="comma list of groups: bulk,tls,post,rate,mem,fresh")
    a = p.parse_args()
    a.shm = "/dev/shm" if a.work.startswith("/dev/shm") else "/tmp"
    a.timeout = 300
    if a.mode == "full":
        a.reps = 5
        a.big, a.big_label = "1g.bin", "1 GiB"
        a.rate_files = [("1 KiB", "/1k.bin", 60000), ("64 KiB", "/64k.bin", 30000)]
        a.conns = [1, 16, 64, 256]
        a.wrk_seconds = 2
        a.mem_file, a.mem_conns = "100m.bin", [1000, 10000]
        a.mem_tls_conns = [1000]
        a.fresh_runs = 30
    else:
        a.reps = 1
        a.big, a.big_label = "1m.bin", "1 MiB"
        a.rate_files = [("1 KiB", "/1k.bin", 10), ("64 KiB", "/64k.bin", 10)]
        a.conns = [2]
        a.wrk_seconds = 1
        a.mem_file, a.mem_conns = "1m.bin", [2]
        a.mem_tls_conns = [2]
        a.fresh_runs = 2
    return a


def main():
    a = parse_args()
    b = Bench(a)
    groups = set(filter(None, a.only.split(","))) or \
        {"bulk", "tls", "post", "rate", "mem", "fresh"}
    started = time.time()
    print("bench: %s run, %d interleaved repetitions per row; nginx on "
          "127.0.0.1:%d; load average %.2f" % (a.mode, a.reps, a.port,
                                              os.getloadavg()[0]), flush=True)
    if "bulk" in groups:
        b.rows_bulk()
    if "tls" in groups:
        b.row_tls_library()
        b.row_tls()
    if "post" in groups:
        b.row_post()
    if "rate" in groups:
        b.rows_rate()
    if "mem" in groups:
        b.rows_mem()
    if "fresh" in groups:
        b.row_fresh()
    goals = b.goals()
    print("\nbench: %.0f s in all; load average now %.2f (other work on the "
          "machine skews every number)" % (time.time() - started,
                                          os.getloadavg()[0]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": b.results, "goals": goals,
                       "failures": b.failures, "date": time.strftime(
                           "%Y-%m-%d %H:%M:%S %Z")}, f, indent=1)
    if b.failures:
        print("\nbench: failures:")
        for f in b.failures:
            print("   " + f)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        sys.exit(130)
