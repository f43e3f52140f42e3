"""Fails while being imported: the container never becomes ready."""
raise RuntimeError("badimport: refusing to load")


def main(args):
    return {}
