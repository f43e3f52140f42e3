"""No-op function for the benchmark: returns an empty object at once."""


def main(args):
    return {}
