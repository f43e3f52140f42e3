"""A no-op whose import takes 100 ms (bench/sandbox_cold.py): stands for a
function with heavy dependencies."""
import time

time.sleep(0.1)


def main(args):
    return {}
