#!/usr/bin/env python3
"""tests/admin/man-replies.py - the REPLIES section of smtpd-session(8),
made from the README's SMTP table, so the two say the same. With --write
it rewrites the section in smtpd-session/smtpd-session.8 (between the
'.\\" BEGIN REPLIES' and '.\\" END REPLIES' lines); without, it exits 1
and names the first difference when the page is out of date."""
import os
import re
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
README = os.path.join(TOP, "README.md")
PAGE = os.path.join(TOP, "smtpd-session", "smtpd-session.8")
BEGIN = '.\\" BEGIN REPLIES (tests/admin/man-replies.py --write)'
END = '.\\" END REPLIES'


def roff(text):
    """markdown cell -> roff text: `code` in bold, escapes"""
    text = text.replace("\\", "\\e")
    out, bold = [], False
    for part in re.split(r"(`)", text):
        if part == "`":
            out.append("\\fR" if bold else "\\fB")
            bold = not bold
        else:
            out.append(part.replace("-", "\\-"))
    s = "".join(out)
    if bold:
        s += "\\fR"
    s = re.sub(r"\*\*([^*]+)\*\*", r"\1", s)
    if s.startswith((".", "'")):
        s = "\\&" + s
    return s


def rows():
    lines = open(README, encoding="utf-8").read().split("\n")
    start = lines.index("## SMTP behaviour")
    i = start
    while not lines[i].startswith("| situation | reply |"):
        i += 1
    i += 2
    out = []
    while i < len(lines) and lines[i].startswith("|"):
        cells = [c.strip() for c in
                 re.split(r"(?<!\\)\|", lines[i].strip())[1:-1]]
        if len(cells) >= 2:
            out.append((cells[0], cells[1]))
        i += 1
    return out


def section():
    body = [BEGIN, ".SH REPLIES",
            "What the session answers, situation by situation (the same "
            "table as the README's \"SMTP behaviour\"):"]
    for situation, reply in rows():
        body += [".TP", roff(situation), roff(reply)]
    body.append(END)
    return body


def main():
    page = open(PAGE, encoding="utf-8").read().split("\n")
    want = section()
    if BEGIN in page and END in page:
        a, b = page.index(BEGIN), page.index(END)
        have = page[a:b + 1]
    else:
        a = b = None
        have = []
    if "--write" in sys.argv:
        if a is None:
            a = b = page.index(".SH OPTIONS") - 1
            page[a + 1:a + 1] = want
        else:
            page[a:b + 1] = want
        open(PAGE, "w", encoding="utf-8").write("\n".join(page))
        return 0
    if have != want:
        for k, (x, y) in enumerate(zip(have + [""] * len(want),
                                       want + [""] * len(have))):
            if x != y:
                print("smtpd-session.8 REPLIES differs from the README at "
                      "line %d: %r != %r (run tests/admin/man-replies.py "
                      "--write)" % (k, x, y))
                break
        return 1
    return 0


sys.exit(main())
