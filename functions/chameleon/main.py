"""FunctionBench chameleon: renders an HTML page holding a table of `rows` x
`cols` cells, as FunctionBench's chameleon template benchmark does, but with the
standard library only: string.Template for the page, row and cell markup and
html.escape for every cell's text (cells contain characters that must be escaped).
Arguments (ints, or strings as the CLI sends them): `rows`, default 200
(1 .. 1000000); `cols`, default 20 (1 .. 10000). Returns Ilúvatar's body with
cold/start/end/latency plus rows, cols, the rendered size in bytes, its sha256 and
the first 200 characters of the HTML.
"""
import hashlib
import html
import time
from string import Template

cold = True

PAGE = Template("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>$title</title></head>\n"
                "<body><h1>$title</h1>\n<table border=\"1\">\n$header$body</table>\n</body></html>\n")
ROW = Template("<tr class=\"$parity\">$cells</tr>\n")
HEAD_CELL = Template("<th scope=\"col\">$text</th>")
CELL = Template("<td id=\"c$row-$col\">$text</td>")


def _int_arg(args, key, default, lo, hi):
    """args[key] as an int in [lo, hi]; accepts ints, integral floats and strings."""
    value = args.get(key, default)
    number = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            pass
    if number is None:
        raise ValueError(f"argument {key!r} must be an integer, got {value!r}")
    if not lo <= number <= hi:
        raise ValueError(f"argument {key!r} must be between {lo} and {hi}, got {number}")
    return number


def render(rows, cols):
    header = ROW.substitute(parity="head", cells="".join(
        HEAD_CELL.substitute(text=html.escape(f"col <{c}>")) for c in range(cols)))
    lines = []
    for r in range(rows):
        cells = "".join(CELL.substitute(row=r, col=c, text=html.escape(f"{r * cols + c} & \"{c}\" < '{r}'"))
                        for c in range(cols))
        lines.append(ROW.substitute(parity="odd" if r % 2 else "even", cells=cells))
    return PAGE.substitute(title=html.escape(f"Table {rows} x {cols} <chameleon>"),
                           header=header, body="".join(lines))


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    args = args or {}
    rows = _int_arg(args, "rows", 200, 1, 1_000_000)
    cols = _int_arg(args, "cols", 20, 1, 10_000)
    page = render(rows, cols).encode()
    end = time.time()
    return {"body": {"rows": rows, "cols": cols, "bytes": len(page),
                     "sha256": hashlib.sha256(page).hexdigest(),
                     "preview": page[:200].decode("utf-8", "replace"), "cold": was_cold,
                     "start": start, "end": end, "latency": end - start}}
