#!/usr/bin/python3
"""Every function a header under src/ declares has a one-line contract: a
comment right above it, or above the group of declarations it belongs to
(a struct and the functions that take it, with no blank line in between),
or after it on the same line. Prints the
undocumented ones and exits 1 when there are any (make check-contracts)."""
import glob
import re
import sys

PROTO = re.compile(r'^(?:static inline )?[a-z_][a-z0-9_ \*]*\b([a-z_][a-z0-9_]*)\s*\(')


def missing(path):
    lines = open(path).read().split("\n")
    out, documented, in_comment, i = [], False, False, 0
    while i < len(lines):
        s = lines[i].strip()
        if in_comment:
            if "*/" in s:
                in_comment, documented = False, True
            i += 1
            continue
        if s.startswith("/*") or s.startswith("//"):
            in_comment = s.startswith("/*") and "*/" not in s
            documented = documented or not in_comment
            i += 1
            continue
        head = s.split(" ", 1)[0]
        if head in ("typedef", "#define"):  # stays under the comment above it
            while i < len(lines) - 1 and (lines[i].rstrip().endswith("\\") or
                                          (head == "typedef" and ";" not in lines[i])):
                i += 1
            i += 1
            continue
        m = PROTO.match(lines[i])
        if m and head != "return" and not lines[i].startswith(" "):
            j = i
            while j < len(lines) - 1 and ";" not in lines[j] and "{" not in lines[j]:
                j += 1
            if not documented and "/*" not in lines[j]:
                out.append("%s:%d: %s" % (path, i + 1, m.group(1)))
            if "{" in lines[j]:  # an inline body: skip to its end
                depth = lines[j].count("{") - lines[j].count("}")
                while depth > 0 and j < len(lines) - 1:
                    j += 1
                    depth += lines[j].count("{") - lines[j].count("}")
            i = j + 1
            continue
        if s == "":  # a blank line ends what the comment above covers
            documented = False
        i += 1  # a struct or enum under a comment: its functions may follow it
    return out


bad = [m for h in sorted(glob.glob("src/**/*.h", recursive=True)) for m in missing(h)]
for b in bad:
    print(b)
if bad:
    print("%d declarations without a contract comment" % len(bad), file=sys.stderr)
    sys.exit(1)
