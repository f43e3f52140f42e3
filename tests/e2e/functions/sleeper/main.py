"""Sleeps args["sec"] seconds (string or number), then answers."""
import time


def main(args):
    sec = float(args.get("sec", 0))
    time.sleep(sec)
    return {"slept": sec}
