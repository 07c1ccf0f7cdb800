#!/usr/bin/env python3
"""STARTTLS sessions against 127.0.0.1:PORT: N sessions, CONC at a time,
over PROCS processes. Prints: sessions ok, failures, seconds, the TLS the
client saw."""
import asyncio, os, ssl, sys, time, random
from multiprocessing import Pool

PORT, N, CONC, PROCS = (int(x) for x in sys.argv[1:5])
r = random.Random(5)
head = (b"From: bench@client.test\r\nTo: to@example.com\r\n"
        b"Subject: 5 KB TLS benchmark message\r\n"
        b"Message-ID: <bench@client.test>\r\n\r\n")
body = b""
while len(head) + len(body) < 5120 - 80:
    body += bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz ")
                  for _ in range(72)) + b"\r\n"
MSG = head + body + b"x" * (5120 - len(head) - len(body) - 2) + b"\r\n"
assert len(MSG) == 5120


async def reply(rd):
    while True:
        ln = await rd.readline()
        if not ln:
            raise EOFError("closed")
        if ln[3:4] != b"-":
            return int(ln[:3]), ln


async def cmd(rd, wr, line, want):
    wr.write(line + b"\r\n")
    code, ln = await reply(rd)
    if code != want:
        raise RuntimeError("%r -> %r" % (line, ln))
    return ln


async def one(ctx, seen):
    rd, wr = await asyncio.open_connection("127.0.0.1", PORT)
    try:
        code, ln = await reply(rd)
        if code != 220:
            raise RuntimeError("banner %r" % ln)
        await cmd(rd, wr, b"EHLO load.test", 250)
        await cmd(rd, wr, b"STARTTLS", 220)
        await wr.start_tls(ctx, server_hostname="mx.test")
        obj = wr.get_extra_info("ssl_object")
        seen.add("%s %s" % (obj.version(), obj.cipher()[0]))
        await cmd(rd, wr, b"EHLO load.test", 250)
        await cmd(rd, wr, b"MAIL FROM:<bench@client.test>", 250)
        await cmd(rd, wr, b"RCPT TO:<to@example.com>", 250)
        await cmd(rd, wr, b"DATA", 354)
        ln = await cmd(rd, wr, MSG + b".", 250)
        await cmd(rd, wr, b"QUIT", 221)
    finally:
        wr.close()
        try:
            await wr.wait_closed()
        except Exception:
            pass


async def worker_main(n, conc):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    seen, errs = set(), []
    left = [n]

    async def runner():
        while left[0] > 0:
            left[0] -= 1
            try:
                await asyncio.wait_for(one(ctx, seen), 60)
            except Exception as e:
                errs.append(repr(e)[:120])
    await asyncio.gather(*(runner() for _ in range(conc)))
    return n - len(errs), errs[:3], sorted(seen)


def worker(args):
    return asyncio.run(worker_main(*args))


if __name__ == "__main__":
    shares = [(N // PROCS + (i < N % PROCS), CONC // PROCS + (i < CONC % PROCS))
              for i in range(PROCS)]
    with Pool(PROCS) as pool:
        pool.map(int, [0] * PROCS)  # warm the workers up before the clock
        t0 = time.monotonic()
        res = pool.map(worker, shares)
        dt = time.monotonic() - t0
    ok = sum(r[0] for r in res)
    errs = [e for r in res for e in r[1]]
    seen = sorted(set(s for r in res for s in r[2]))
    print("%d %d %.3f %s" % (ok, N - ok, dt, ",".join(seen).replace(" ", "/")))
    for e in errs[:3]:
        print("error: " + e, file=sys.stderr)
