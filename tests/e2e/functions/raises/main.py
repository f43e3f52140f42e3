"""Raises, so the worker must answer 422 with the traceback in user_error."""


def main(args):
    raise ValueError("raised on purpose by the e2e test function 'raises'")
