"""Succeeds only when called with {"greeting": "hi", "n": "3"}: the load
generator's metadata args column (Ilúvatar's "k=v;k=v") must arrive."""


def main(args):
    if args != {"greeting": "hi", "n": "3"}:
        raise ValueError(f"unexpected arguments {args!r}")
    return {"ok": True}
