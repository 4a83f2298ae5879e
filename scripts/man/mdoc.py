#!/usr/bin/env python3
"""Writes the tllm tools' man pages (mdoc) from their own `--experimental-dump-help` JSON.

    python3 scripts/man/mdoc.py --bin .build/release --out man tllm-convert tllm-calib ...

Each TOOL given is run as BIN/TOOL --experimental-dump-help; OUT/TOOL.1 gets NAME (the abstract),
SYNOPSIS (every shown argument, optional ones in brackets, repeatable ones with "..."), DESCRIPTION (the
discussion: blank-line paragraphs, paragraphs starting with "- " as a dash list, indented lines as literal
displays), OPTIONS, EXIT STATUS, SEE ALSO (tllm(7) and the other TOOLs given) and AUTHORS.

Unlike swift-argument-parser's generate-manual, non-ASCII text (α, γ, Σ, −, ...) is kept, as UTF-8: man-db runs
preconv, mandoc reads UTF-8. Roff-special input is escaped: backslashes (\\e), a leading . or ' (\\&), hyphens
of flags and other code (\\-, so they render and copy as ASCII '-'), words that mdoc would read as macros.
Python 3 standard library only.
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys

# mdoc macro names: a word equal to one of these on a macro line would be called, so it gets a \& prefix.
MACROS = set("""
%A %B %C %D %I %J %N %O %P %Q %R %T %U %V Ac Ad An Ao Ap Aq Ar At Bc Bd Bf Bk Bl Bo Bq Brc Bro Brq Bsx Bt Bx
Cd Cm D1 Db Dc Dd Dl Do Dq Dt Dv Dx Ec Ed Ef Ek El Em En Eo Er Es Ev Ex Fa Fc Fd Fl Fn Fo Fr Ft Fx Hf Ic In It
Lb Li Lk Lp Ms Mt Nd Nm No Ns Nx Oc Oo Op Os Ot Ox Pa Pc Pf Po Pp Pq Qc Ql Qo Qq Re Rs Rv Sc Sh Sm So Sq Ss St
Sx Sy Ta Tn Ud Ux Va Vt Xc Xo Xr
""".split())
DELIMITERS = set(".,:;()[]?!|")
OPENERS = "([{\"'`"


def escape_backslashes(s):
    return s.replace("\\", "\\e")


def escape_code_hyphens(s):
    """Escapes every hyphen of a word that starts with one (-o, --seq-len, - for stdin, -1) as \\-, so that
    flags render and copy as ASCII hyphen-minus; hyphens inside ordinary words (data-free) stay hyphens."""
    def word(m):
        w = m.group(0)
        i = 0
        while i < len(w) and w[i] in OPENERS:
            i += 1
        if w[i:i + 1] == "-":
            return w[:i] + w[i:].replace("-", "\\-")
        return w
    return re.sub(r"\S+", word, s)


def protect_line_start(line):
    """A text line starting with . or ' would be a request; \\& makes it text."""
    return "\\&" + line if line[:1] in (".", "'") else line


def roff_width(s):
    """Length of a line as mandoc measures it: a non-ASCII character counts as its \\[uXXXX] form."""
    return sum(1 if ord(c) < 128 else 8 for c in s)


def wrap(s, width=80):
    """Breaks at blanks into lines of at most `width` where words allow, never after a word ending in
    . ! or ? (roff takes a line-final full stop for a sentence end)."""
    lines, cur = [], ""
    for w in s.split():
        if cur and roff_width(cur + " " + w) > width and not re.search(r"[.!?][)\"']?$", cur):
            lines.append(cur)
            cur = w
        else:
            cur = cur + " " + w if cur else w
    return lines + [cur] if cur else lines


def text_lines(s):
    """Filled-text lines of prose for one sentence."""
    return [protect_line_start(l) for l in wrap(escape_code_hyphens(escape_backslashes(s.strip())))]


def literal_line(s):
    """One line of a literal display: all of it is code, so every hyphen is \\-."""
    return protect_line_start(escape_backslashes(s).replace("-", "\\-")) if s else "\\&"


def macro_arg(s, code=False):
    """One argument of a macro line: quoted if it has blanks, \\&-protected if it reads as a macro or delimiter."""
    s = escape_backslashes(s)
    if code:
        s = s.replace("-", "\\-")
    if s == "":
        return '""'
    if re.search(r'[\s"]', s):
        return '"' + s.replace('"', '""') + '"'
    if s in MACROS or all(c in DELIMITERS for c in s):
        return "\\&" + s
    return s


def macro_words(s):
    """Free text on a macro line (.Nd): each word protected on its own."""
    return " ".join(macro_arg(w) if (w in MACROS or all(c in DELIMITERS for c in w)) else
                    escape_code_hyphens(escape_backslashes(w)) for w in s.split())


SENTENCE_END = re.compile(r"(?<=[a-z0-9)\"'][.!?]) +(?=[A-Z(-])")


def sentences(paragraph):
    """mdoc style: a new sentence starts a new line (roff then also puts sentence spacing in)."""
    return SENTENCE_END.split(" ".join(l.strip() for l in paragraph))


def flag_name(n):
    kind, name = n["kind"], n["name"]
    return "Fl " + macro_arg(("-" if kind == "long" else "") + name, code=True)


def names_of(a):
    """Short names first, then long ones (the order of --help)."""
    order = {"short": 0, "longWithSingleDash": 1, "long": 2}
    return sorted(a.get("names") or [], key=lambda n: order.get(n["kind"], 3))


def value_suffix(a):
    return " Ar " + macro_arg(a["valueName"]) if a["kind"] == "option" else ""


def synopsis_item(a):
    if a["kind"] == "positional":
        core = "Ar " + macro_arg(a["valueName"])
    else:
        pref = a.get("preferredName") or names_of(a)[0]
        core = flag_name(pref) + value_suffix(a)
    if a["isRepeating"]:
        core += " ..."
    return (".Op " if a["isOptional"] else ".") + core


def option_head(a):
    if a["kind"] == "positional":
        return ".It Ar " + macro_arg(a["valueName"]) + (" ..." if a["isRepeating"] else "")
    return ".It " + " , ".join(flag_name(n) for n in names_of(a)) + value_suffix(a)


def description(text):
    """The discussion: paragraphs split at blank lines; a paragraph starting with "- " is a dash-list item;
    lines starting with blanks are a literal display (indentation kept relative to the least-indented line)."""
    blocks = []  # ("p" | "item" | "lit", [lines]); None marks a blank line
    for line in text.rstrip().split("\n"):
        if not line.strip():
            blocks.append(None)
            continue
        kind = "lit" if line[:1] in (" ", "\t") else "p"
        last = blocks[-1] if blocks else None
        if last is not None and (last[0] == kind or (last[0] == "item" and kind == "p")):
            last[1].append(line)
        elif kind == "p" and line.startswith("- "):
            blocks.append(("item", [line[2:]]))
        else:
            blocks.append((kind, [line]))
    out = []
    prev = None  # the kind of the last element written
    in_list = False
    for b in blocks:
        if b is None:
            continue
        kind, lines = b
        if in_list and kind != "item":
            out.append(".El")
            in_list = False
        if kind == "item":
            if not in_list:
                out.append(".Bl -dash")
                in_list = True
            out.append(".It")
            out += [l for s in sentences(lines) for l in text_lines(s)]
        elif kind == "p":
            if prev is not None:
                out.append(".Pp")
            out += [l for s in sentences(lines) for l in text_lines(s)]
        else:
            lines = [l.expandtabs(8).rstrip() for l in lines]
            indent = min(len(l) - len(l.lstrip(" ")) for l in lines if l.strip())
            out.append(".Bd -literal -offset indent")
            out += [literal_line(l[indent:]) for l in lines]
            out.append(".Ed")
        prev = kind
    if in_list:
        out.append(".El")
    return out


def run(binary, *args):
    r = subprocess.run([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit(f"mdoc.py: error: {binary} {' '.join(args)}: exit status {r.returncode}: "
                 f"{r.stderr.decode('utf-8', 'replace').strip()}")
    return r.stdout.decode("utf-8")


def page(tool, dump, tools, date):
    cmd = dump["command"]
    name = cmd.get("commandName") or tool
    args = [a for a in cmd.get("arguments", []) if a.get("shouldDisplay", True)]
    abstract = (cmd.get("abstract") or "").strip()
    if abstract.endswith(".") and not abstract.endswith(".."):
        abstract = abstract[:-1]  # mdoc: the one-line description has no full stop
    out = [
        '.\\" -*- coding: utf-8 -*-',
        f'.\\" {name}({1}): generated by scripts/man/mdoc.py from `{name} --experimental-dump-help`;',
        '.\\" edit the command definition and run `make man`, not this file.',
        ".Dd " + date.strftime("%B %-d, %Y"),
        ".Dt " + macro_arg(name.upper()) + " 1",
        ".Os",
        ".Sh NAME",
        ".Nm " + macro_arg(name),
        ".Nd " + macro_words(abstract),
        ".Sh SYNOPSIS",
        ".Nm",
    ]
    out += [synopsis_item(a) for a in args]
    discussion = cmd.get("discussion") or ""
    if discussion.strip():
        out.append(".Sh DESCRIPTION")
        out += description(discussion)
    if args:
        out += [".Sh OPTIONS", ".Bl -tag -width Ds"]
        for a in args:
            out.append(option_head(a))
            body = [(a.get("abstract") or "").strip()]
            body += [l for l in (a.get("discussion") or "").split("\n") if l.strip()]
            if a.get("allValues"):
                body.append("Values: " + ", ".join(a["allValues"]) + ".")
            if a.get("defaultValue") not in (None, ""):
                body.append("Default: " + a["defaultValue"] + ".")
            if a["isRepeating"] and a["kind"] != "positional":
                body.append("May be given more than once.")
            for para in body:
                if para:
                    out += [l for s in sentences([para]) for l in text_lines(s)]
        out.append(".El")
    out += [
        ".Sh EXIT STATUS",
        ".Bl -tag -width Ds",
        ".It 0",
        "Success.",
        ".It 1",
        "A data or runtime error (unreadable or malformed input, I/O failure, ...);",
        "one line",
        ".Ql " + macro_arg(f"{name}: error: file: what", code=True),
        "is written to standard error and no partial output is left behind.",
        ".It 2",
        "A usage error (unknown option, missing or invalid value),",
        "reported with the usage line.",
        ".It 128+ Ns Ar N",
        "Interrupted by signal",
        ".Ar N",
        "(130 for SIGINT, 143 for SIGTERM);",
    ]
    if name == "tllm-distill":
        out += ["a checkpoint is written first (see", ".Fl \\-resume )", "and"]
    out += ["half-written outputs are removed.", ".El"]
    others = sorted(t for t in tools if t != name)
    out.append(".Sh SEE ALSO")
    for t in others:
        out.append(".Xr " + macro_arg(t) + " 1 ,")
    out.append(".Xr tllm 7")
    out += [".Sh AUTHORS", ".An tllm developers"]
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", required=True, help="directory of the built tools (e.g. .build/release)")
    p.add_argument("--out", default="man", help="output directory (default: man)")
    p.add_argument("--date", default="2026-11-30", help="page date, YYYY-MM-DD (default: 2026-11-30)")
    p.add_argument("tools", nargs="+", help="tool names; each is also listed in the others' SEE ALSO")
    o = p.parse_args()
    date = datetime.date.fromisoformat(o.date)
    os.makedirs(o.out, exist_ok=True)
    for tool in o.tools:
        binary = os.path.join(o.bin, tool)
        dump = json.loads(run(binary, "--experimental-dump-help"))
        text = page(tool, dump, o.tools, date)
        path = os.path.join(o.out, tool + ".1")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
        print(path)


if __name__ == "__main__":
    main()
